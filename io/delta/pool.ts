// Runs diff jobs on worker threads, one per core. Workers run the compiled JS beside this module
// (dist/io/delta/diff-worker.js); where that does not exist (tests running TypeScript sources)
// jobs run in-thread, with identical results. A worker that dies fails only the job it had and is
// replaced.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { inThreadDiffer, type Differ, type DiffResult, type WindowResult } from '../../core/delta/differ.js';
import type { ChainIndex } from '../../core/delta/matcher.js';

/** What a worker is asked (diff-worker.ts): a whole diff, filling a shared index, or one window. */
export type JobMessage =
  | { kind: 'diff'; old: Uint8Array; nw: Uint8Array }
  | { kind: 'index'; ix: ChainIndex }
  | { kind: 'window'; ix: ChainIndex; nw: Uint8Array; newBase: number };

interface Job {
  id: number;
  msg: JobMessage;
  /** Buffers moved to the worker (not shared ones). */
  transfer: ArrayBuffer[];
  resolve(r: unknown): void;
  reject(e: Error): void;
}

/** Buffers of these arrays that can be moved (SharedArrayBuffers are shared instead). */
const movable = (...a: Uint8Array[]) => a.map((b) => b.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);

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
    w.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const job = this.busy.get(w)!;
      this.busy.delete(w);
      this.crashesInARow = 0;
      if (m.error === undefined) job.resolve(m.result);
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

  readonly shared = true;
  get threads(): number {
    return Math.max(1, this.workers.size);
  }

  private run<T>(msg: JobMessage, transfer: ArrayBuffer[]): Promise<T> {
    if (this.workers.size === 0) return Promise.reject(new Error('diff workers kept crashing; the pool has none left'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, msg, transfer, resolve: resolve as (r: unknown) => void, reject });
      this.pump();
    });
  }

  diff(old: Uint8Array, nw: Uint8Array): Promise<DiffResult> {
    return this.run({ kind: 'diff', old, nw }, movable(old, nw));
  }

  /** Filled on one worker: in parts on two, each part took longer than the whole (matcher.ts fillChainIndex). */
  async index(ix: ChainIndex): Promise<void> {
    await this.run({ kind: 'index', ix }, []);
  }

  window(ix: ChainIndex, nw: Uint8Array, newBase: number): Promise<WindowResult> {
    return this.run({ kind: 'window', ix, nw, newBase }, movable(nw));
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.busy.set(w, job);
      w.postMessage({ id: job.id, ...job.msg }, job.transfer);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }
}
