// The inbox: a folder anything may write into (a file-transfer tool writing slowly, a USB stick, a
// relay). It is polled, not watched: inotify sees nothing on many USB and network mounts. A file
// is a candidate only if it is a regular file named *.bundle (not hidden, so no `._*` or temp
// names); it is handed out only once its size and mtime have held still for `settleMs`. Whether a
// settled file is complete is the bundle's own header's call (its declared length): see module.ts.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-file.js';

export const QUARANTINE_DIR = 'quarantine';
export const BUNDLE_SUFFIX = '.bundle';

export interface InboxFile {
  name: string;
  path: string;
  size: number;
  mtimeMs: number;
  /** when it was first seen with this size and mtime (ms since 1970) */
  stableSince: number;
}

/** Names the module takes. Everything else (README, .DS_Store, `._x.bundle`, `x.bundle.part`) is foreign. */
export function isCandidateName(name: string): boolean {
  return name.toLowerCase().endsWith(BUNDLE_SUFFIX) && !name.startsWith('.') && !name.startsWith('~') && name.length > BUNDLE_SUFFIX.length;
}

export class Inbox {
  private readonly seen = new Map<string, InboxFile>();

  constructor(
    readonly dir: string,
    private readonly settleMs: number,
  ) {}

  get quarantineDir(): string {
    return join(this.dir, QUARANTINE_DIR);
  }

  /**
   * One look at the folder. `settled`: candidates unchanged for settleMs, oldest first; `writing`:
   * how many candidates are still changing (a copy in progress).
   */
  async scan(now = Date.now()): Promise<{ settled: InboxFile[]; writing: number }> {
    const names = await fs.readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      // A USB stick pulled out, or not mounted yet: nothing to take now.
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EIO') return [] as string[];
      throw err;
    });
    const present = new Set<string>();
    const settled: InboxFile[] = [];
    let writing = 0;
    for (const name of names) {
      if (!isCandidateName(name)) continue;
      const path = join(this.dir, name);
      // lstat: a symlink is not taken (it could point at a device file or outside the inbox).
      const st = await fs.lstat(path).catch(() => null);
      if (!st?.isFile()) continue;
      present.add(name);
      const prev = this.seen.get(name);
      const same = prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs;
      const file: InboxFile = same ? prev : { name, path, size: st.size, mtimeMs: st.mtimeMs, stableSince: now };
      this.seen.set(name, file);
      if (now - file.stableSince >= this.settleMs) settled.push(file);
      else writing++;
    }
    for (const name of this.seen.keys()) if (!present.has(name)) this.seen.delete(name);
    settled.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
    return { settled, writing };
  }

  /** Forgets what it knew of a file, so the next scan sees it afresh (after it was moved or deleted). */
  forget(name: string): void {
    this.seen.delete(name);
  }

  /**
   * Moves a bad bundle to quarantine/ beside a `<name>.reason.json` saying why (written first, so
   * the file is never in quarantine without its reason). An existing name gets a time suffix.
   */
  async quarantine(file: InboxFile, reason: { reason: string; message: string; at: string; receipt?: string }): Promise<string> {
    await fs.mkdir(this.quarantineDir, { recursive: true });
    let name = file.name;
    if (await fs.stat(join(this.quarantineDir, name)).then(() => true, () => false)) name = `${file.name.slice(0, -BUNDLE_SUFFIX.length)}-${Date.now()}${BUNDLE_SUFFIX}`;
    await writeFileAtomic(join(this.quarantineDir, `${name}.reason.json`), `${JSON.stringify({ file: file.name, ...reason }, null, 2)}\n`);
    const to = join(this.quarantineDir, name);
    await fs.rename(file.path, to);
    this.forget(file.name);
    return to;
  }

  async remove(file: InboxFile): Promise<void> {
    await fs.rm(file.path, { force: true });
    this.forget(file.name);
  }
}
