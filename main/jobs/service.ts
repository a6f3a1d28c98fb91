// The one job service. Long work runs as a job: it gets an AbortSignal and a progress callback,
// and the service owns everything around it: the id and history row, rate and ETA (one meter for
// every kind), throttled progress events for the bridge, Electron and the CLI, cancel, the final
// result or error, and at most one running job per exclusive resource (a USB folder, a registry).
import { RateMeter } from '../../core/jobs/rate.js';
import type { JobInfo } from '../../contract/jobs.js';
import { processAlive, type JobHistory } from './history.js';

export interface JobContext {
  signal: AbortSignal;
  /**
   * Reports progress. Throws the cancel reason once the job is cancelled, so work that reports
   * progress stops at its next report (its own finally blocks then clean up).
   */
  progress(done: number, total: number, stage?: string): void;
  /** names what the job does now, without a count */
  stage(stage: string): void;
}

export type JobRun<R> = (ctx: JobContext) => Promise<R>;

export interface StartOptions {
  /** only one running job may hold this resource; a second start fails with JobConflictError */
  exclusive?: string;
  unit?: JobInfo['unit'];
}

export interface Job<R> {
  id: number;
  info(): JobInfo;
  /** the run's result; rejects with its error, or JobCancelledError */
  done: Promise<R>;
}

export class JobConflictError extends Error {
  override name = 'JobConflictError';
  constructor(
    readonly resource: string,
    readonly holder: JobInfo,
  ) {
    super(`${resource} is in use by job #${holder.id} (${holder.title}); wait for it to finish or cancel it`);
  }
}

export class JobCancelledError extends Error {
  override name = 'JobCancelledError';
  constructor(readonly jobId: number) {
    super(`job #${jobId} was cancelled`);
  }
}

export class UnknownJobError extends Error {
  override name = 'UnknownJobError';
  constructor(id: number) {
    super(`no job #${id}`);
  }
}

export type JobListener = (job: JobInfo) => void;

export interface JobsOptions {
  /** keeps the outcome of every job; without it (file-only CLI commands) jobs live in memory */
  history?: JobHistory;
  actor: string;
  now?: () => number;
  /** least time between two progress events of one job; stage changes and the end always go out */
  throttleMs?: number;
}

interface Live {
  info: JobInfo;
  meter: RateMeter;
  controller: AbortController;
  lastEmit: number;
}

/** "bundle-build failed: ..." → the first line, which is meant for the user */
function messageOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!;
}

export class Jobs {
  private readonly live = new Map<number, Live>();
  private readonly finished = new Map<number, JobInfo>();
  private readonly listeners = new Set<JobListener>();
  private readonly waiters = new Map<number, Array<() => void>>();
  private readonly now: () => number;
  private readonly throttleMs: number;
  private nextMemoryId = 1;

  constructor(private readonly options: JobsOptions) {
    this.now = options.now ?? Date.now;
    this.throttleMs = options.throttleMs ?? 250;
    options.history?.sweep(processAlive, new Date(this.now()).toISOString());
  }

  /** Calls `listener` with a job's state on start, on progress (throttled) and at the end. */
  subscribe(listener: JobListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start<R>(kind: string, title: string, params: unknown, run: JobRun<R>, opts: StartOptions = {}): Job<R> {
    const resource = opts.exclusive ?? null;
    if (resource !== null) {
      const holder = [...this.live.values()].find((l) => l.info.resource === resource);
      if (holder) throw new JobConflictError(resource, { ...holder.info });
    }
    const startedAt = new Date(this.now()).toISOString();
    const base = { kind, title, params: params ?? {}, unit: opts.unit ?? 'bytes', resource, actor: this.options.actor, startedAt } as const;
    const id = this.options.history ? this.options.history.begin(base) : this.nextMemoryId++;
    const live: Live = {
      info: { ...base, id, state: 'running', stage: null, done: 0, total: 0, rate: null, etaSeconds: null, finishedAt: null, result: null, error: null, cancelling: false },
      meter: new RateMeter(),
      controller: new AbortController(),
      lastEmit: 0,
    };
    this.live.set(id, live);
    this.emit(live);

    const { signal } = live.controller;
    const ctx: JobContext = {
      signal,
      progress: (done, total, stage) => {
        if (signal.aborted) throw new JobCancelledError(id);
        const stageChanged = stage !== undefined && stage !== live.info.stage;
        const at = this.now();
        live.meter.sample(at, done);
        live.info.done = done;
        live.info.total = total;
        if (stage !== undefined) live.info.stage = stage;
        live.info.rate = live.meter.rate();
        live.info.etaSeconds = live.meter.etaSeconds(total);
        if (stageChanged || at - live.lastEmit >= this.throttleMs || done >= total) this.emit(live);
      },
      stage: (stage) => {
        if (signal.aborted) throw new JobCancelledError(id);
        if (stage === live.info.stage) return;
        live.info.stage = stage;
        this.emit(live);
      },
    };

    const done = (async () => {
      try {
        // a microtask first, so the caller holds the Job before any event about its end
        await Promise.resolve();
        if (signal.aborted) throw signal.reason;
        const result = await run(ctx);
        this.end(live, { state: 'succeeded', result: result ?? null });
        return result;
      } catch (err) {
        if (signal.aborted) {
          this.end(live, { state: 'cancelled', error: `cancelled by ${this.options.actor}` });
          throw new JobCancelledError(id);
        }
        this.end(live, { state: 'failed', error: messageOf(err) });
        throw err;
      }
    })();
    // nobody may be waiting (the app only watches events): an unhandled rejection must not crash main
    done.catch(() => {});
    return { id, info: () => ({ ...live.info }), done };
  }

  cancel(id: number): JobInfo {
    const live = this.live.get(id);
    if (!live) {
      const info = this.get(id);
      throw new Error(`job #${id} is not running (it ${info.state === 'interrupted' ? 'was interrupted' : info.state})`);
    }
    if (!live.controller.signal.aborted) {
      live.info.cancelling = true;
      live.controller.abort(new JobCancelledError(id));
      this.emit(live);
    }
    return { ...live.info };
  }

  get(id: number): JobInfo {
    const live = this.live.get(id);
    if (live) return { ...live.info };
    const info = this.finished.get(id) ?? this.options.history?.get(id);
    if (!info) throw new UnknownJobError(id);
    return info;
  }

  /** running jobs first (newest first), then finished ones, newest first */
  list(limit = 100, kind?: string): JobInfo[] {
    const running = [...this.live.values()].map((l) => ({ ...l.info })).filter((j) => !kind || j.kind === kind);
    const past = this.options.history ? this.options.history.list(limit + running.length, kind) : [...this.finished.values()].filter((j) => !kind || j.kind === kind);
    const seen = new Set(running.map((j) => j.id));
    const rest = past.filter((j) => !seen.has(j.id));
    return [...running.sort((a, b) => b.id - a.id), ...rest.sort((a, b) => b.id - a.id)].slice(0, limit);
  }

  /** Cancels every running job and waits (at most `timeoutMs`) until they stopped: the app is closing. */
  async stopAll(timeoutMs = 10_000): Promise<void> {
    const running = [...this.live.keys()];
    for (const id of running) this.cancel(id);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((ok) => (timer = setTimeout(ok, timeoutMs)));
    await Promise.race([Promise.all(running.map((id) => this.whenDone(id))), limit]);
    clearTimeout(timer);
  }

  private whenDone(id: number): Promise<void> {
    if (!this.live.has(id)) return Promise.resolve();
    return new Promise((ok) => this.waiters.set(id, [...(this.waiters.get(id) ?? []), ok]));
  }

  private end(live: Live, outcome: Pick<JobInfo, 'state'> & Partial<Pick<JobInfo, 'result' | 'error'>>): void {
    const info = live.info;
    info.state = outcome.state;
    info.result = outcome.result ?? null;
    info.error = outcome.error ?? null;
    info.finishedAt = new Date(this.now()).toISOString();
    info.cancelling = false;
    info.rate = null;
    info.etaSeconds = null;
    if (outcome.state === 'succeeded' && info.total > 0) info.done = info.total;
    try {
      this.options.history?.finish(info);
    } finally {
      this.live.delete(info.id);
      if (!this.options.history) this.finished.set(info.id, { ...info });
      this.emit(live);
      for (const ok of this.waiters.get(info.id) ?? []) ok();
      this.waiters.delete(info.id);
    }
  }

  private emit(live: Live): void {
    live.lastEmit = this.now();
    const snapshot = { ...live.info };
    for (const l of this.listeners) {
      try {
        l(snapshot);
      } catch {
        // a broken subscriber (a closed page) must not stop the job or the other subscribers
      }
    }
  }
}
