// The headless secret store: each secret in its own file under <data dir>/secrets (directory 0700,
// files 0600), sealed with AES-256-GCM under a key kept in the same directory (0600). The key file
// beside the data does not stop someone who can read the account's files; what it does is keep
// secrets out of backups and copies of single files, out of the inventory, and out of `grep`.
// Files that are group/world readable are refused rather than used.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic-file.js';
import { checkSecretName, type SecretStore } from './secret-store.js';

const MAGIC = 'lighter-secret-v1';
// Mode set on the temp file before the rename, so the final name is never readable by others.
const ownerOnly = (tmp: string) => chmod(tmp, 0o600);

export class FileSecretStore implements SecretStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'secrets');
  }

  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.checkMode(this.dir, 0o077);
  }

  private checkMode(path: string, forbidden: number): void {
    const mode = statSync(path).mode & 0o777;
    if (mode & forbidden) throw new Error(`refusing to use ${path}: its mode is ${mode.toString(8)}; secrets must be readable by their owner only (chmod ${forbidden === 0o077 && path === this.dir ? '700' : '600'})`);
  }

  private async key(create: boolean): Promise<Buffer | undefined> {
    const file = join(this.dir, 'key');
    if (!existsSync(file)) {
      if (!create) return undefined;
      await writeFileAtomic(file, randomBytes(32), ownerOnly);
    }
    this.checkMode(file, 0o077);
    const key = readFileSync(file);
    if (key.length !== 32) throw new Error(`${file} is damaged (not a 32-byte key); remove it and add the secrets again`);
    return key;
  }

  private file(name: string): string {
    return join(this.dir, `${checkSecretName(name)}.secret`);
  }

  async get(name: string): Promise<string | undefined> {
    const file = this.file(name);
    if (!existsSync(file)) return undefined;
    this.ensureDir();
    this.checkMode(file, 0o077);
    const key = await this.key(false);
    if (!key) throw new Error(`secret ${name} is there but the key file is missing; add it again`);
    const sealed = readFileSync(file);
    const head = Buffer.from(`${MAGIC}\n`);
    if (sealed.length < head.length + 12 + 16 || !sealed.subarray(0, head.length).equals(head)) throw new Error(`secret file for ${name} is damaged; add it again`);
    const iv = sealed.subarray(head.length, head.length + 12);
    const tag = sealed.subarray(head.length + 12, head.length + 28);
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(Buffer.from(name));
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(sealed.subarray(head.length + 28)), d.final()]).toString('utf8');
    } catch {
      throw new Error(`secret ${name} does not open with the key in ${this.dir} (damaged or from another key); add it again`);
    }
  }

  async set(name: string, value: string): Promise<void> {
    const file = this.file(name);
    this.ensureDir();
    const key = (await this.key(true))!;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(Buffer.from(name));
    const body = Buffer.concat([c.update(value, 'utf8'), c.final()]);
    await writeFileAtomic(file, Buffer.concat([Buffer.from(`${MAGIC}\n`), iv, c.getAuthTag(), body]), ownerOnly);
  }

  async delete(name: string): Promise<boolean> {
    const file = this.file(name);
    if (!existsSync(file)) return false;
    rmSync(file);
    return true;
  }
}
