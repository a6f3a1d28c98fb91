import { describe, expect, it } from 'vitest';
import { BackgroundSync } from './background-sync.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('BackgroundSync', () => {
  it('never runs twice at once: a run asked for while one goes joins it', async () => {
    let runs = 0;
    let release!: () => void;
    const bg = new BackgroundSync(async () => {
      runs++;
      await new Promise<void>((r) => (release = r));
    }, { intervalMs: 60_000 });
    const a = bg.runNow();
    const b = bg.runNow();
    expect(a).toBe(b);
    expect(bg.status().running).toBe(true);
    release();
    await a;
    expect(runs).toBe(1);
    expect(bg.status()).toMatchObject({ running: false, failures: 0, lastError: null });
  });

  it('runs on its interval, backs off while failing, and returns to the interval once a run succeeds', async () => {
    const at: number[] = [];
    let fail = true;
    const bg = new BackgroundSync(async () => {
      at.push(Date.now());
      if (fail) throw new Error('hub fleet is unreachable');
    }, { intervalMs: 40, maxBackoffMs: 200 });
    bg.start();
    await tick(400);
    const failures = bg.status().failures;
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(bg.status().lastError).toBe('hub fleet is unreachable');
    // waits double: 40, 80, 160, then the 200 ceiling
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps[0]!).toBeGreaterThanOrEqual(35);
    expect(gaps[1]!).toBeGreaterThanOrEqual(75);
    expect(bg.delay()).toBe(Math.min(200, 40 * 2 ** failures));
    await bg.stop();
    fail = false;
    await bg.runNow();
    expect(bg.status().failures).toBe(0);
    expect(bg.delay()).toBe(40);
    const n = at.length;
    await tick(120);
    expect(at.length).toBe(n);
    expect(bg.status()).toMatchObject({ enabled: false, nextRunAt: null });
  });
});
