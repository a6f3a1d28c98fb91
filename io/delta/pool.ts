// Runs diff jobs on worker threads, one per core. Workers run the compiled JS beside this module
// (dist/io/delta/diff-worker.js); where that does not exist (tests running TypeScript sources)
// jobs run in-thread, with identical results. A worker that dies fails only the job it had and is
// replaced.
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

/** Workers in a row that died before finishing a job: then the script itself is broken. */
const MAX_CRASHES_IN_A_ROW = 3;

export class DiffPool implements Differ {
  private readonly workers = new Set<Worker>();
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private nextId = 0;
  private crashesInARow = 0;
  private closing = false;

  private constructor(
    private readonly script: string,
    size: number,
  ) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  private spawn(): void {
    const w = new Worker(this.script);
    this.workers.add(w);
    w.on('message', (m: { id: number; result?: DiffResult; error?: string }) => {
      const job = this.busy.get(w)!;
      this.busy.delete(w);
      this.crashesInARow = 0;
      if (m.result) job.resolve(m.result);
      else job.reject(new Error(`diff worker: ${m.error}`));
      this.idle.push(w);
      this.pump();
    });
    // an uncaught exception is followed by 'exit'; whichever comes first is the cause
    w.on('error', (e) => this.lost(w, e.message));
    w.on('exit', (code) => this.lost(w, `exit code ${code}`));
    this.idle.push(w);
  }

  /**
   * A worker died (crash, out of memory, process.exit): its job fails, since its buffers went with
   * it, and a new worker takes its place so the queue keeps moving.
   */
  private lost(w: Worker, cause: string): void {
    if (this.closing || !this.workers.delete(w)) return;
    const at = this.idle.indexOf(w);
    if (at >= 0) this.idle.splice(at, 1);
    const job = this.busy.get(w);
    this.busy.delete(w);
    job?.reject(new Error(`diff worker crashed during a job (${cause}); the pool started a new worker`));
    if (++this.crashesInARow > MAX_CRASHES_IN_A_ROW) {
      for (const j of this.queue.splice(0)) j.reject(new Error(`diff workers keep crashing (${cause}); giving up`));
      return;
    }
    this.spawn();
    this.pump();
  }

  /** A pool of `size` workers, or the in-thread differ when no compiled worker script exists. */
  static create(size = availableParallelism(), script = fileURLToPath(new URL('./diff-worker.js', import.meta.url))): Differ & { close(): Promise<void> } {
    if (!existsSync(script)) return { ...inThreadDiffer, close: async () => undefined };
    return new DiffPool(script, Math.max(1, size));
  }

  diff(old: Uint8Array, nw: Uint8Array): Promise<DiffResult> {
    if (this.workers.size === 0) return Promise.reject(new Error('diff workers kept crashing; the pool has none left'));
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
    this.closing = true;
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }
}
