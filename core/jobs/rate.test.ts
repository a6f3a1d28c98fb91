import { describe, expect, it } from 'vitest';
import { RateMeter } from './rate.js';

describe('RateMeter', () => {
  it('says nothing until the samples span long enough', () => {
    const m = new RateMeter({ minSpanMs: 500 });
    m.sample(0, 0);
    m.sample(100, 1000);
    expect(m.rate()).toBeNull();
    expect(m.etaSeconds(10_000)).toBeNull();
  });

  it('measures over the window, so a stall shows', () => {
    const m = new RateMeter({ windowMs: 2000, minSpanMs: 500 });
    for (let t = 0; t <= 10_000; t += 500) m.sample(t, t * 10); // 10 units/ms = 10,000/s
    expect(m.rate()).toBeCloseTo(10_000);
    expect(m.etaSeconds(200_000)).toBeCloseTo(10);
    for (let t = 10_500; t <= 13_000; t += 500) m.sample(t, 100_000); // stalled
    expect(m.rate()).toBe(0);
    expect(m.etaSeconds(200_000)).toBeNull();
  });

  it('starts over when progress goes back', () => {
    const m = new RateMeter({ minSpanMs: 100 });
    m.sample(0, 0);
    m.sample(1000, 5000);
    m.sample(1100, 0);
    expect(m.rate()).toBeNull();
    m.sample(1300, 400);
    expect(m.rate()).toBeCloseTo(2000);
  });
});
