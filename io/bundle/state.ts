// A device's apply state: the last bundle version it accepted (replay and rollback protection) and
// a work area per bundle in progress holding verified pieces, so an apply killed at any point
// resumes without redoing them. Everything is written atomically; partial files are swept on open.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { AppliedRecord } from '../../core/bundle/policy.js';
import { sweepPartials, writeFileAtomic } from '../atomic-file.js';
import { dataDir } from '../data-dir.js';
import { assertDigest } from '../digest.js';

const APPLIED_FILE = 'applied.json';
const appliedSchema = z.object({ version: z.number().int().positive(), id: z.string(), appliedAt: z.string() }).strict();

export function defaultStateDir(): string {
  return join(dataDir(), 'apply');
}

export class ApplyState {
  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<ApplyState> {
    await fs.mkdir(join(dir, 'work'), { recursive: true });
    await sweepPartials(dir);
    return new ApplyState(dir);
  }

  async lastApplied(): Promise<AppliedRecord | null> {
    const path = join(this.dir, APPLIED_FILE);
    const text = await fs.readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (text === null) return null;
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* refused below */
    }
    const parsed = appliedSchema.safeParse(json);
    // Refusing to guess keeps rollback protection: a damaged record must be looked at, not ignored.
    if (!parsed.success) throw new Error(`${path} is damaged; restore it or remove it to accept any version again`);
    return parsed.data;
  }

  async recordApplied(record: AppliedRecord): Promise<void> {
    await writeFileAtomic(join(this.dir, APPLIED_FILE), `${JSON.stringify(record)}\n`);
  }

  /** The work area of one bundle (by id), created on demand and swept of partial files. */
  async workArea(bundleId: string): Promise<WorkArea> {
    const dir = join(this.dir, 'work', assertDigest(bundleId, 'bundle id').slice('sha256:'.length));
    await fs.mkdir(dir, { recursive: true });
    await sweepPartials(dir);
    return new WorkArea(dir);
  }
}

/** Verified pieces of one apply, named by their digest only (never by anything from the bundle). */
export class WorkArea {
  constructor(readonly dir: string) {}

  pathFor(digest: string, suffix: string): string {
    return join(this.dir, `${assertDigest(digest).slice('sha256:'.length)}${suffix}`);
  }

  async has(digest: string, suffix: string): Promise<boolean> {
    return fs.stat(this.pathFor(digest, suffix)).then((s) => s.isFile(), () => false);
  }

  async remove(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
