import { describe, expect, it } from 'vitest';
import { suffixArray } from './sais.js';
import { rng } from './testing.js';

function naive(s: Uint8Array): number[] {
  const idx = [...s.keys()];
  return idx.sort((a, b) => {
    const n = Math.min(s.length - a, s.length - b);
    for (let i = 0; i < n; i++) if (s[a + i] !== s[b + i]) return s[a + i]! - s[b + i]!;
    return s.length - a - (s.length - b);
  });
}

describe('suffixArray (SA-IS)', () => {
  it('handles empty, one and two bytes', () => {
    expect([...suffixArray(new Uint8Array(0))]).toEqual([]);
    expect([...suffixArray(Uint8Array.of(7))]).toEqual([0]);
    expect([...suffixArray(Uint8Array.of(2, 1))]).toEqual([1, 0]);
    expect([...suffixArray(Uint8Array.of(1, 1))]).toEqual([1, 0]);
  });
  it('sorts classic strings', () => {
    const enc = (t: string) => new TextEncoder().encode(t);
    for (const t of ['banana', 'mississippi', 'abracadabra', 'aaaaaaaaaa', 'abababababab', 'zyxwvutsrqp']) {
      expect([...suffixArray(enc(t))]).toEqual(naive(enc(t)));
    }
  });
  it('matches a naive sort on random and repetitive inputs (recursion exercised)', () => {
    const r = rng(42);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(r() * 400);
      const alphabet = 1 + Math.floor(r() * (trial % 3 === 0 ? 2 : 256));
      const s = new Uint8Array(n);
      for (let i = 0; i < n; i++) s[i] = Math.floor(r() * alphabet);
      // repeated blocks make LMS substrings collide, forcing the recursive step
      if (trial % 4 === 1) for (let i = 16; i < n; i++) s[i] = s[i % 16]!;
      expect([...suffixArray(s)]).toEqual(naive(s));
    }
  });
  it('is a permutation with sorted suffixes on a 1 MiB input', () => {
    const r = rng(7);
    const s = new Uint8Array(1 << 20);
    for (let i = 0; i < s.length; i++) s[i] = i % 1000 < 500 ? Math.floor(r() * 4) : s[i - 500]!;
    const sa = suffixArray(s);
    const seen = new Uint8Array(s.length);
    for (const p of sa) seen[p] = 1;
    expect(seen.every((v) => v === 1)).toBe(true);
    for (let k = 1; k < sa.length; k += 997) {
      const a = sa[k - 1]!;
      const b = sa[k]!;
      let i = 0;
      while (a + i < s.length && b + i < s.length && s[a + i] === s[b + i]) i++;
      expect(b + i === s.length ? false : a + i === s.length || s[a + i]! < s[b + i]!).toBe(true);
    }
  });
});
