import { describe, expect, it } from 'vitest';
import { backoffMs, retry, retryAfterMs } from './retry.js';

describe('retry', () => {
  it('backs off exponentially with full jitter, under the cap', () => {
    expect([0, 1, 2, 3].map((n) => backoffMs(n, { baseMs: 100, capMs: 500, random: () => 0.999 }))).toEqual([99, 199, 399, 499]);
    expect(backoffMs(5, { random: () => 0 })).toBe(0);
  });

  it('retries until it succeeds, and gives up after the attempts with the last error', async () => {
    let calls = 0;
    expect(await retry(async (n) => (++calls < 3 ? Promise.reject(new Error(`fail ${n}`)) : n), { baseMs: 1 })).toBe(2);
    calls = 0;
    await expect(retry(async (n) => (calls++, Promise.reject(new Error(`fail ${n}`))), { attempts: 3, baseMs: 1 })).rejects.toThrow('fail 2');
    expect(calls).toBe(3);
  });

  it('asks the decision: stop, or wait exactly as long as it says', async () => {
    let calls = 0;
    await expect(retry(async () => (calls++, Promise.reject(new Error('no'))), { decide: () => false })).rejects.toThrow('no');
    expect(calls).toBe(1);
    const times: number[] = [];
    await retry(async () => (times.push(Date.now()), times.length < 2 ? Promise.reject(new Error('later')) : 'ok'), { decide: () => 300 });
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(290);
  });

  it('does not wait past its deadline', async () => {
    const started = Date.now();
    await expect(retry(() => Promise.reject(new Error('busy')), { decide: () => 5_000, deadlineMs: 1_000 })).rejects.toThrow('busy');
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('stops mid-wait when aborted', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('cancelled')), 100);
    const started = Date.now();
    await expect(retry(() => Promise.reject(new Error('down')), { decide: () => 10_000, signal: ac.signal })).rejects.toThrow('cancelled');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reads Retry-After as seconds or as an HTTP-date', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Tue, 01 Dec 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Tue, 01 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});
