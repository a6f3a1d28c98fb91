// The one retry policy for every remote call Lighter makes (registry HTTP; Azure Blob and IoT Hub
// use it too): exponential backoff with full jitter under a cap, bounded by attempts and a
// deadline, abortable, and a per-error decision so that a server's own Retry-After beats our guess.
// Full jitter (a random wait in [0, min(cap, base·2^n))) keeps a fleet that lost the same link at
// the same moment from coming back in lockstep.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** attempts in all, the first one included (default 5) */
  attempts?: number;
  /** ceiling of the first backoff, doubled on each retry (default 200 ms) */
  baseMs?: number;
  /** no backoff is longer than this (default 30 s) */
  capMs?: number;
  /** give up rather than wait past this many ms after the first attempt began (default: none) */
  deadlineMs?: number;
  signal?: AbortSignal;
  /**
   * What to do about ERR after attempt number ATTEMPT (0 for the first) failed: false gives up
   * (ERR is thrown), true retries after the jittered backoff, a number retries after exactly that
   * many ms (what the server asked for). Default: retry every error.
   */
  decide?: (err: unknown, attempt: number) => boolean | number;
  /** source of [0, 1) for the jitter (tests fix it) */
  random?: () => number;
}

/** The jittered wait before retry number ATTEMPT + 1. */
export function backoffMs(attempt: number, opts: Pick<RetryOptions, 'baseMs' | 'capMs' | 'random'> = {}): number {
  const ceiling = Math.min(opts.capMs ?? 30_000, (opts.baseMs ?? 200) * 2 ** attempt);
  return Math.floor((opts.random ?? Math.random)() * ceiling);
}

/**
 * Runs FN until it resolves, the decision says stop, the attempts are used up or waiting would
 * pass the deadline; then the last error is thrown as it was. An abort rejects with the signal's
 * reason at once, also mid-wait.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt + 1 >= attempts || opts.signal?.aborted) throw err;
      const decision = opts.decide ? opts.decide(err, attempt) : true;
      if (decision === false) throw err;
      const wait = decision === true ? backoffMs(attempt, opts) : Math.max(0, decision);
      if (opts.deadlineMs !== undefined && Date.now() - started + wait > opts.deadlineMs) throw err;
      await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => opts.signal?.throwIfAborted());
    }
  }
}

/**
 * A Retry-After header (RFC 9110 §10.2.3) as ms from NOW: delay-seconds or an HTTP-date;
 * undefined when absent or unreadable. A date in the past means "now".
 */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
