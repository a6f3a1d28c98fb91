import { describe, expect, it } from 'vitest';
import { ContentSketcher, decodeSamples, encodeSamples, missingShare, sketchRateBits } from './sketch.js';
import { noise } from './testing.js';

function sketch(bytes: Uint8Array, piece = bytes.length) {
  const s = new ContentSketcher(bytes.length);
  for (let at = 0; at < bytes.length; at += piece) s.update(bytes.subarray(at, at + piece));
  return s.finish();
}

describe('content sketch', () => {
  const old = noise(7, 4 << 20);

  it('is the same however the content is cut into pieces', () => {
    const whole = sketch(old);
    expect(whole.samples.length).toBeGreaterThan(1000);
    expect(sketch(old, 1).samples).toEqual(whole.samples);
    expect(sketch(old, 4093).samples).toEqual(whole.samples);
  });

  it('finds nothing missing from the same content, and everything from unrelated content', () => {
    expect(missingShare(sketch(old), sketch(old))).toBe(0);
    expect(missingShare(sketch(old), sketch(noise(8, 4 << 20)))).toBeGreaterThan(0.99);
  });

  it('measures the share of a file rewritten in blocks, within a few points', () => {
    const changed = old.slice();
    for (let i = 0; i < 40; i++) changed.set(noise(100 + i, 10 << 10), i * (100 << 10)); // 40 × 10 KiB of 4 MiB
    const share = missingShare(sketch(old), sketch(changed))!;
    expect(share).toBeGreaterThan(0.06);
    expect(share).toBeLessThan(0.14); // 400 KiB of 4 MiB: 0.098
  });

  it('compares versions of different sizes at the coarser rate', () => {
    const grown = new Uint8Array(64 << 20);
    grown.set(old);
    grown.set(noise(9, (64 << 20) - old.length), old.length);
    expect(sketchRateBits(grown.length)).toBeGreaterThan(sketchRateBits(old.length));
    const share = missingShare(sketch(old), sketch(grown))!;
    expect(share).toBeGreaterThan(0.9); // 60 of 64 MiB are new
    expect(share).toBeLessThan(0.97);
    expect(missingShare(sketch(grown), sketch(old))).toBe(0);
  });

  it('says nothing of a file with no window sampled', () => {
    expect(missingShare(sketch(old), sketch(new Uint8Array(7)))).toBeNull();
  });

  it('round-trips through base64 and refuses what is not a sketch', () => {
    const { samples } = sketch(old);
    expect(decodeSamples(encodeSamples(samples))).toEqual(samples);
    expect(decodeSamples(encodeSamples(samples.subarray(0, 1)))).toEqual(samples.subarray(0, 1));
    expect(decodeSamples('')).toEqual(new Uint32Array(0));
    expect(() => decodeSamples('AAAA')).toThrow(/whole number/);
    expect(() => decodeSamples(encodeSamples(Uint32Array.from([5, 3])))).toThrow(/ascending/);
    expect(() => decodeSamples('AA!A')).toThrow(/base64/);
  });
});
