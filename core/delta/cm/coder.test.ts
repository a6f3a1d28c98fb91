import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CmDecoder, cmDecode, cmEncode, CorruptCodeError } from './coder.js';
import { STATES, squash, STRETCH } from './tables.js';
import { rng } from '../testing.js';

/** Text-like bytes: words from a small vocabulary, so the contexts and the match model have something to find. */
function textLike(n: number, r: () => number): Uint8Array {
  const words = ['function', 'return', 'const', ' ', '\n  ', '(', ')', '{', '}', 'value', 'key', ';', '=', 'lodash', '.', ',', 'if', 'null'];
  let s = '';
  while (s.length < n) s += words[Math.floor(r() * words.length)];
  return new TextEncoder().encode(s.slice(0, n));
}

const roundTrip = (b: Uint8Array) => {
  const code = cmEncode(b);
  expect(Buffer.from(cmDecode(code, b.length)).equals(Buffer.from(b))).toBe(true);
  return code;
};

describe('context-mixing coder', () => {
  it('round-trips random inputs of every kind exactly', () => {
    const r = rng(7);
    for (let k = 0; k < 24; k++) {
      const n = Math.floor(r() * 3000);
      const alphabet = [2, 16, 256][k % 3]!;
      const b = k % 4 === 3 ? textLike(n, r) : Uint8Array.from({ length: n }, () => Math.floor(r() * alphabet));
      roundTrip(b);
    }
  });

  it('round-trips the empty input and one byte', () => {
    expect(cmDecode(roundTrip(new Uint8Array(0)), 0).length).toBe(0);
    for (const v of [0, 1, 127, 128, 255]) roundTrip(Uint8Array.of(v));
  });

  it('codes repetitive text well below its size and long runs to almost nothing', () => {
    const text = textLike(40_000, rng(3));
    expect(roundTrip(text).length).toBeLessThan(text.length / 4);
    expect(roundTrip(new Uint8Array(100_000).fill(0x41)).length).toBeLessThan(200);
  });

  it('codes exactly as format version 4 did (patches already written must still decode)', () => {
    // Text then random bytes: every model, the match model and the table's eviction take part.
    const r = rng(13);
    const b = new Uint8Array(60_000);
    b.set(textLike(40_000, r));
    for (let i = 40_000; i < b.length; i++) b[i] = Math.floor(r() * 256);
    const code = cmEncode(b);
    expect(code.length).toBe(28_047);
    expect(createHash('sha256').update(code).digest('hex')).toBe('69c05b49e8b03b11bf214959ff73b2ce4526cf121841bbf54ca9b44311ebaef4');
  });

  it('is deterministic', () => {
    const b = textLike(10_000, rng(5));
    expect(Buffer.from(cmEncode(b)).equals(Buffer.from(cmEncode(b)))).toBe(true);
  });

  it('decodes in chunks to the same bytes as at once', () => {
    const b = textLike(20_000, rng(9));
    const d = new CmDecoder(cmEncode(b), b.length);
    const parts: Uint8Array[] = [];
    while (d.remaining > 0) parts.push(d.read(777));
    expect(Buffer.concat(parts).equals(Buffer.from(b))).toBe(true);
  });

  it('fails a corrupted, truncated or extended code with CorruptCodeError, never a wrong result', () => {
    const r = rng(11);
    const b = textLike(5_000, r);
    const code = cmEncode(b);
    // The code's last bytes flush the coder's range; their low bits may not matter, so a flip there
    // can decode to the right bytes. Every other flip must fail.
    let failed = 0;
    for (let k = 0; k < 40; k++) {
      const bad = new Uint8Array(code);
      const at = Math.floor(r() * code.length);
      bad[at] = bad[at]! ^ (1 + Math.floor(r() * 255));
      try {
        expect(Buffer.from(cmDecode(bad, b.length)).equals(Buffer.from(b))).toBe(true);
        expect(at).toBeGreaterThanOrEqual(code.length - 4);
      } catch (e) {
        if (!(e instanceof CorruptCodeError)) throw e;
        failed++;
      }
    }
    expect(failed).toBeGreaterThan(30);
    expect(() => cmDecode(code.subarray(0, code.length - 3), b.length)).toThrow(/ends early|checksum/);
    expect(() => cmDecode(Buffer.concat([code, Uint8Array.of(0)]), b.length)).toThrow(/left over/);
    expect(() => cmDecode(code, b.length + 1)).toThrow(CorruptCodeError);
    expect(() => cmDecode(code.subarray(0, 4), 10)).toThrow(/shorter than its framing/);
    expect(() => cmDecode(Uint8Array.of(40, 0, 0, 0, 0, 0, 0, 0, 0), 10)).toThrow(/2\^40-bucket table/);
  });

  it('has a stretch that is the least inverse of squash and a state machine that stays within a byte', () => {
    for (let p = 1; p < 4095; p++) {
      const x = STRETCH[p]!;
      expect(squash(x)).toBeGreaterThanOrEqual(p);
      if (x > -2047) expect(squash(x - 1)).toBeLessThan(p);
    }
    for (let s = 0; s < 256; s++) for (const bit of [0, 1]) expect(STATES.next[s * 2 + bit]).toBeLessThan(256);
    // a state seeing only ones moves towards more ones
    let s = 0;
    for (let k = 0; k < 10; k++) s = STATES.next[s * 2 + 1]!;
    expect(STATES.n1[s]).toBe(10);
    expect(STATES.n0[s]).toBe(0);
  });
});
