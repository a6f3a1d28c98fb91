// Copies an unchanged layer's bytes from the file it lies in into an archive being written, on a
// worker thread (copy-worker.ts), so that the main thread rebuilds the next layer meanwhile: read,
// hash and write of a 153 MB base layer were ~0.2 s of an apply's main thread (every corpus pair
// copies one or two such layers). One worker, started for a copy and ended when it has none left
// (it costs ~12 MB while it lives, and a rebuild's peak comes later). Where the compiled worker
// does not exist (tests running TypeScript sources) there is no copier and the caller copies in-thread.
import type { Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** Bytes [offset, offset + size) of `path`, written to descriptor `fd` at `at`. */
export interface CopyJob {
  path: string;
  offset: number;
  size: number;
  fd: number;
  at: number;
}

/**
 * The one copy loop of a layer lying in a file, on the worker (copy-worker.ts) or in-thread
 * (docker-archive.ts): bytes [offset, offset + size) as `read` fills them into `bufs` in turn, one
 * block per buffer, each hashed into `hash` before it is yielded. A buffer is filled again
 * bufs.length yields later: the caller's write of it must be done by the time it resumes the
 * generator that many times.
 */
export function* hashedBlocks(read: (target: Uint8Array, offset: number) => void, offset: number, size: number, bufs: readonly Uint8Array[], hash: Hash): Generator<Uint8Array> {
  for (let o = 0, k = 0; o < size; k = (k + 1) % bufs.length) {
    const b = bufs[k]!.subarray(0, Math.min(bufs[k]!.length, size - o));
    read(b, offset + o);
    hash.update(b);
    yield b;
    o += b.length;
  }
}

export class Copier {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, { resolve(digest: string): void; reject(e: Error): void }>();
  private nextId = 0;

  private constructor(private readonly script: string) {}

  /** A copier, or undefined where the compiled worker script does not exist. */
  static create(script = fileURLToPath(new URL('./copy-worker.js', import.meta.url))): Copier | undefined {
    return existsSync(script) ? new Copier(script) : undefined;
  }

  /** Whether a copy is under way (a caller with work of its own then copies in-thread instead of queueing). */
  get busy(): boolean {
    return this.jobs.size > 0;
  }

  /** Copies the range; resolves to the sha256 of the bytes copied. */
  copy(job: CopyJob): Promise<string> {
    const w = (this.worker ??= this.spawn());
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      w.postMessage({ id, ...job });
    });
  }

  private spawn(): Worker {
    const w = new Worker(this.script, { resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 } });
    w.on('message', (m: { id: number; digest?: string; error?: string }) => {
      const job = this.jobs.get(m.id);
      this.jobs.delete(m.id);
      if (m.digest !== undefined) job?.resolve(m.digest);
      else job?.reject(new Error(`layer copy: ${m.error}`));
      if (this.jobs.size === 0) this.stop();
    });
    const lost = (cause: string) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      for (const j of this.jobs.values()) j.reject(new Error(`layer copy worker stopped during a copy (${cause})`));
      this.jobs.clear();
    };
    w.on('error', (e) => lost(e.message));
    w.on('exit', (code) => lost(`exit code ${code}`));
    return w;
  }

  private stop(): void {
    const w = this.worker;
    this.worker = undefined;
    void w?.terminate();
  }
}
