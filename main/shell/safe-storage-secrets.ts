// The app's secret store: each secret sealed by the OS keychain through Electron's safeStorage
// (secrets.ts, which refuses Linux's plain-text backend), kept as <data dir>/secrets/NAME.sealed
// with mode 0600. The sealed bytes are useless without the user's keychain.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic-file.js';
import { checkSecretName, type SecretStore } from '../secrets/secret-store.js';
import { decryptSecret, encryptSecret } from './secrets.js';

export class SafeStorageSecretStore implements SecretStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'secrets');
  }

  private file(name: string): string {
    return join(this.dir, `${checkSecretName(name)}.sealed`);
  }

  async get(name: string): Promise<string | undefined> {
    const file = this.file(name);
    return existsSync(file) ? decryptSecret(readFileSync(file)) : undefined;
  }

  async set(name: string, value: string): Promise<void> {
    const sealed = encryptSecret(value);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file(name), sealed, (tmp) => chmod(tmp, 0o600));
  }

  async delete(name: string): Promise<boolean> {
    const file = this.file(name);
    if (!existsSync(file)) return false;
    rmSync(file);
    return true;
  }
}
