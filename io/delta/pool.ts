// Runs diff jobs on worker threads, one per core. Workers run the compiled JS beside this module
// (dist/io/delta/diff-worker.js); where that does not exist (tests running TypeScript sources)
// jobs run in-thread, with identical results.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { inThreadDiffer, type Differ, type DiffResult } from '../../core/delta/differ.js';

interface Job {
  id: number;
  old: Uint8Array;
  nw: Uint8Array;
  resolve(r: DiffResult): void;
  reject(e: Error): void;
}

export class DiffPool implements Differ {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private nextId = 0;

  private constructor(script: string, size: number) {
    for (let i = 0; i < size; i++) {
      const w = new Worker(script);
      w.on('message', (m: { id: number; result?: DiffResult; error?: string }) => {
        const job = this.busy.get(w)!;
        this.busy.delete(w);
        if (m.result) job.resolve(m.result);
        else job.reject(new Error(`diff worker: ${m.error}`));
        this.idle.push(w);
        this.pump();
      });
      w.on('error', (e) => {
        const job = this.busy.get(w);
        this.busy.delete(w);
        job?.reject(e);
      });
      this.idle.push(w);
    }
  }

  /** A pool of `size` workers, or the in-thread differ when no compiled worker script exists. */
  static create(size = availableParallelism()): Differ & { close(): Promise<void> } {
    const script = fileURLToPath(new URL('./diff-worker.js', import.meta.url));
    if (!existsSync(script)) return { ...inThreadDiffer, close: async () => undefined };
    return new DiffPool(script, Math.max(1, size));
  }

  diff(old: Uint8Array, nw: Uint8Array): Promise<DiffResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, old, nw, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.busy.set(w, job);
      w.postMessage({ id: job.id, old: job.old, nw: job.nw }, [job.old.buffer as ArrayBuffer, job.nw.buffer as ArrayBuffer]);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.idle, ...this.busy.keys()].map((w) => w.terminate()));
  }
}
