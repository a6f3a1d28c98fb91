// The app's background sync: every few minutes while the hubs answer, backing off (doubling, up to
// a ceiling) while they do not, and never two runs at once (a run asked for while one is going
// joins it). After each run the mail queue is flushed, so mail waiting for a relay goes out when
// one answers.
import type { BackgroundSyncStatus } from '../../contract/index.js';

export interface BackgroundSyncOptions {
  /** between runs while all is well (default 5 min) */
  intervalMs?: number;
  /** longest wait while failing (default 1 h) */
  maxBackoffMs?: number;
}

export class BackgroundSync {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private readonly state: BackgroundSyncStatus = { running: false, enabled: false, lastRunAt: null, lastOkAt: null, lastError: null, failures: 0, nextRunAt: null };
  private controller: AbortController | undefined;

  constructor(
    /** one run: sync every hub, then flush mail; throws when a hub failed */
    private readonly work: (signal: AbortSignal) => Promise<void>,
    private readonly options: BackgroundSyncOptions = {},
  ) {}

  status(): BackgroundSyncStatus {
    return { ...this.state };
  }

  start(): void {
    if (this.state.enabled) return;
    this.state.enabled = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.state.enabled = false;
    clearTimeout(this.timer);
    this.state.nextRunAt = null;
    this.controller?.abort(new Error('background sync stopped'));
    await this.current?.catch(() => {});
  }

  /** Runs now (or joins the run going on); the next run is scheduled from its outcome. */
  runNow(): Promise<void> {
    if (this.current) return this.current;
    clearTimeout(this.timer);
    this.controller = new AbortController();
    this.state.running = true;
    this.state.lastRunAt = new Date().toISOString();
    this.current = this.work(this.controller.signal).then(
      () => {
        this.state.failures = 0;
        this.state.lastError = null;
        this.state.lastOkAt = new Date().toISOString();
      },
      (err: unknown) => {
        this.state.failures++;
        this.state.lastError = err instanceof Error ? err.message.split('\n')[0]! : String(err);
        throw err;
      },
    ).finally(() => {
      this.current = undefined;
      this.state.running = false;
      if (this.state.enabled) this.schedule(this.delay());
    });
    return this.current;
  }

  /** The wait before the next run: the interval, doubled per failure in a row, up to the ceiling. */
  delay(): number {
    const interval = this.options.intervalMs ?? 5 * 60_000;
    return Math.min(this.options.maxBackoffMs ?? 60 * 60_000, interval * 2 ** this.state.failures);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.state.nextRunAt = new Date(Date.now() + ms).toISOString();
    this.timer = setTimeout(() => void this.runNow().catch(() => {}), ms);
    this.timer.unref();
  }
}
