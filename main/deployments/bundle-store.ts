// The shore's bundle store: every built bundle once, named by the sha256 of its bytes, under the data
// directory (docs/deployments.md draws the layout). A bundle is built into a temp name in the store
// (swept on open if a build is killed), hashed, and only then renamed to its content address, so a
// name in the store is always a complete file whose hash is its name.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, sweepPartials, tempPathFor } from '../../io/atomic-file.js';
import { assertDigest } from '../../io/digest.js';

export class BundleStore {
  private constructor(readonly dir: string) {}

  /** `dir` is <data dir>/bundles; partial files a killed build left there are removed. */
  static async open(dir: string): Promise<BundleStore> {
    await fs.mkdir(join(dir, 'sha256'), { recursive: true });
    await sweepPartials(join(dir, 'sha256'));
    return new BundleStore(dir);
  }

  /** Where a bundle with this sha256 ("sha256:<hex>") lives. */
  pathOf(sha256: string): string {
    return join(this.dir, 'sha256', `${assertDigest(sha256, 'bundle sha256').slice('sha256:'.length)}.bundle`);
  }

  async has(sha256: string): Promise<boolean> {
    const st = await fs.stat(this.pathOf(sha256)).catch(() => null);
    return st?.isFile() === true;
  }

  /** A temp path inside the store for a build to write to before `adopt` names it. */
  scratchPath(): string {
    return tempPathFor(join(this.dir, 'sha256', 'build.bundle'));
  }

  /** Hashes a finished file and renames it to its content address; returns sha256 and size. */
  async adopt(path: string): Promise<{ sha256: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const c of createReadStream(path)) {
      hash.update(c as Buffer);
      size += (c as Buffer).length;
    }
    const sha256 = `sha256:${hash.digest('hex')}`;
    await fs.rename(path, this.pathOf(sha256));
    await fsyncDir(join(this.dir, 'sha256'));
    return { sha256, size };
  }
}
