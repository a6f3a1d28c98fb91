// One cap on the bytes all transfers put on the link together: a token bucket that every upload's
// body draws from, first come first served, so two uploads at once share the cap instead of each
// taking it. The rate can change while transfers run (the engineer moves a slider, or the link does).
import { Readable } from 'node:stream';

/** Bytes a body hands to the socket at once: small enough that the cap holds within a second. */
export const CHUNK = 16 * 1024;

export class RateLimiter {
  private tokens: number;
  private last = performance.now();
  private readonly waiters: Array<{ n: number; resolve: () => void; reject: (e: unknown) => void; signal?: AbortSignal; onAbort?: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  /** `bytesPerSecond` 0 or Infinity = no cap. */
  constructor(private bytesPerSecond: number) {
    this.tokens = this.capacity();
  }

  get rate(): number {
    return this.bytesPerSecond;
  }

  setRate(bytesPerSecond: number): void {
    this.refill();
    this.bytesPerSecond = bytesPerSecond;
    this.tokens = Math.min(this.tokens, this.capacity());
    this.pump();
  }

  // A burst of half a second (at least one chunk): enough that a busy event loop, late to refill,
  // does not lose rate; over any window of a few seconds the measured rate stays at the cap.
  private capacity(): number {
    return this.unlimited() ? Infinity : Math.max(CHUNK, this.bytesPerSecond / 2);
  }

  private unlimited(): boolean {
    return !(this.bytesPerSecond > 0) || this.bytesPerSecond === Infinity;
  }

  private refill(): void {
    const now = performance.now();
    if (!this.unlimited()) this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }

  /** Resolves once `n` bytes (at most one CHUNK) may be sent; rejects if `signal` aborts first. */
  take(n: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.unlimited()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: (typeof this.waiters)[number] = { n, resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
      this.pump();
    });
  }

  private pump(): void {
    if (this.timer) return;
    this.refill();
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      if (!this.unlimited() && this.tokens < w.n) break;
      this.waiters.shift();
      if (!this.unlimited()) this.tokens -= w.n;
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve();
    }
    if (this.waiters.length > 0) {
      const wait = ((this.waiters[0]!.n - this.tokens) / this.bytesPerSecond) * 1000;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, Math.max(1, Math.ceil(wait)));
    }
  }
}

/** A request body over `data` that hands bytes on only as fast as `limiter` allows. */
export function throttledBody(data: Buffer, limiter: RateLimiter, signal: AbortSignal | undefined, onSent: (n: number) => void): Readable {
  let offset = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (offset >= data.length) {
        this.push(null);
        return;
      }
      const n = Math.min(CHUNK, data.length - offset);
      limiter.take(n, signal).then(
        () => {
          const chunk = data.subarray(offset, offset + n);
          offset += n;
          onSent(n);
          this.push(chunk);
        },
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
}
