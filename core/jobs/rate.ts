// Rate and time-to-go of a job, computed in one place for the app, the CLI and every job kind.
// The rate is measured over a sliding window of recent samples, so a stall (a dropped link, a
// slow layer) shows within seconds instead of being averaged away by the whole run.
export interface RateSample {
  /** milliseconds, any monotonic clock */
  at: number;
  done: number;
}

export interface RateMeterOptions {
  /** how far back the rate looks; default 5 s */
  windowMs?: number;
  /** no rate until the samples span this long; default 500 ms */
  minSpanMs?: number;
}

export class RateMeter {
  private readonly samples: RateSample[] = [];
  private readonly windowMs: number;
  private readonly minSpanMs: number;

  constructor(options: RateMeterOptions = {}) {
    this.windowMs = options.windowMs ?? 5000;
    this.minSpanMs = options.minSpanMs ?? 500;
  }

  sample(at: number, done: number): void {
    const last = this.samples[this.samples.length - 1];
    // progress that goes back (a stage restarting its count) starts a new measurement
    if (last && done < last.done) this.samples.length = 0;
    this.samples.push({ at, done });
    // keep one sample older than the window so the window is always fully covered
    while (this.samples.length > 2 && this.samples[1]!.at <= at - this.windowMs) this.samples.shift();
  }

  /** units per second over the window, or null while there is too little to say */
  rate(): number | null {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (!first || !last || last.at - first.at < this.minSpanMs) return null;
    return ((last.done - first.done) * 1000) / (last.at - first.at);
  }

  /** seconds until `total` at the current rate; null when unknown or stalled */
  etaSeconds(total: number): number | null {
    const last = this.samples[this.samples.length - 1];
    const rate = this.rate();
    if (!last || rate === null || rate <= 0 || total <= 0) return null;
    return Math.max(0, (total - last.done) / rate);
  }
}
