// Large files are diffed window by window on several threads against one shared chain index
// (build.ts largeDelta/largeX86Delta): the index filled in batches, windows diffed on their own and
// joined in order must rebuild the file exactly, and give the same bytes however they are split.
import { describe, expect, it } from 'vitest';
import { allocChainIndex, fillChainIndex, HashChainMatcher, keySlot, SuffixMatcher } from './matcher.js';
import { inThreadDiffer, joinWindows, rebaseWindow, windowJob } from './differ.js';
import { randomBytes, rebuild, rng } from './testing.js';

/** New bytes made of old pieces (moved, some edited) and fresh bytes, as a new build of a binary is. */
function derive(old: Uint8Array, r: () => number, n: number): Uint8Array {
  const out: number[] = [];
  while (out.length < n) {
    const kind = r();
    const len = 1 + Math.floor(r() * 3000);
    if (kind < 0.7) {
      const at = Math.floor(r() * Math.max(1, old.length - len));
      const piece = Array.from(old.subarray(at, at + len));
      for (let k = 0; k < piece.length; k += 50 + Math.floor(r() * 400)) piece[k] = Math.floor(r() * 256);
      out.push(...piece);
    } else out.push(...randomBytes(Math.floor(len / 10), r));
  }
  return Uint8Array.from(out.slice(0, n));
}

const diffInWindows = (ixOld: Uint8Array, nw: Uint8Array, window: number) => {
  const ix = allocChainIndex(ixOld);
  fillChainIndex(ix);
  const windows = [];
  for (let w = 0; w < nw.length; w += window) windows.push(windowJob(ix, nw.subarray(w, Math.min(nw.length, w + window)), w));
  return windows;
};

describe('windowed diff on a shared chain index', () => {
  it('an index filled in batches is the index filled a key at a time', () => {
    // the chain rule one key at a time, as it was before the head slots were read ahead
    const oneByOne = (old: Uint8Array) => {
      const ix = allocChainIndex(old);
      const mask = ix.head.length - 1;
      for (let k = 0; k < ix.prev.length; k++) {
        const slot = keySlot(old, k * ix.step, mask);
        const last = ix.head[slot]!;
        if (last >= 0 && (k - last) * ix.step <= 256 && Buffer.from(old.subarray(last * ix.step, last * ix.step + 8)).equals(old.subarray(k * ix.step, k * ix.step + 8))) continue;
        ix.prev[k] = last;
        ix.head[slot] = k;
      }
      return ix;
    };
    const r = rng(3);
    for (const n of [7, 8, 130, 129 * 64 + 13, 60_000]) {
      // repeats (small alphabet, zero runs) exercise the repeat rule across batch ends
      const old = Uint8Array.from([...randomBytes(n >> 1, r, 4), ...new Uint8Array(n >> 3), ...randomBytes(n - (n >> 1) - (n >> 3), r)]);
      const ix = allocChainIndex(old);
      fillChainIndex(ix);
      const want = oneByOne(old);
      expect(ix.head).toEqual(want.head);
      expect(ix.prev).toEqual(want.prev);
    }
  });

  it('lookups that read chain heads ahead find what a walk of the chain finds, in any order of positions', () => {
    const r = rng(9);
    const old = Uint8Array.from([...randomBytes(30_000, r, 4), ...new Uint8Array(3000), ...randomBytes(20_000, r)]);
    const nw = derive(old, r, 40_000);
    const ix = allocChainIndex(old);
    fillChainIndex(ix);
    const walk = (scan: number, end: number): [number, number] => {
      let best = 0;
      let pos = -1;
      if (end - scan < 8) return [0, pos];
      let k = ix.head[keySlot(nw, scan, ix.head.length - 1)]!;
      for (let d = 0; k >= 0 && d < 16; d++, k = ix.prev[k]!) {
        let len = 0;
        while (k * ix.step + len < old.length && scan + len < end && old[k * ix.step + len] === nw[scan + len]) len++;
        if (len > best) {
          best = len;
          pos = k * ix.step;
          if (len >= 4096) break;
        }
      }
      return best >= 8 ? [best, pos] : [0, pos];
    };
    const m = new HashChainMatcher(ix);
    // forwards a byte at a time, jumps, backwards, and up to the end
    const scans = [...Array.from({ length: 3000 }, (_, i) => i), ...Array.from({ length: 2000 }, () => Math.floor(r() * nw.length)), ...Array.from({ length: 40 }, (_, i) => nw.length - 1 - i)];
    for (const scan of scans) {
      const end = r() < 0.1 ? Math.min(nw.length, scan + Math.floor(r() * 20)) : nw.length;
      const [len, pos] = walk(scan, end);
      expect(m.find(nw, scan, end)).toBe(len);
      if (len > 0) expect(m.pos).toBe(pos);
    }
  });

  it('windows diffed on their own and joined in order rebuild random files exactly', async () => {
    const r = rng(11);
    for (let trial = 0; trial < 12; trial++) {
      const old = randomBytes(1000 + Math.floor(r() * 60_000), r, trial % 3 === 0 ? 3 : 256);
      const nw = trial % 4 === 3 ? randomBytes(Math.floor(r() * 5000), r) : derive(old, r, Math.floor(r() * 80_000));
      const window = 1 + Math.floor(r() * 20_000);
      const windows = diffInWindows(old, nw, window);
      const joined = joinWindows(windows);
      expect(Buffer.from(await rebuild(old, joined, nw.length)).equals(Buffer.from(nw))).toBe(true);
      // written one by one (largeDelta) the streams are the same as joined (largeX86Delta)
      let cursor = 0;
      const ctrl = windows.flatMap((w) => {
        const b = rebaseWindow(w, cursor).ctrl;
        cursor = w.oldEnd;
        return Array.from(b);
      });
      expect(Uint8Array.from(ctrl)).toEqual(joined.ctrl);
    }
  });

  it('gives the same bytes whichever thread fills the index or diffs which window', async () => {
    const r = rng(5);
    const old = randomBytes(50_000, r);
    const nw = derive(old, r, 60_000);
    const shared = new Uint8Array(new SharedArrayBuffer(old.length));
    shared.set(old);
    const ix = allocChainIndex(shared, true);
    await inThreadDiffer.index(ix);
    const a = joinWindows(await Promise.all([0, 20_000, 40_000].map((w) => inThreadDiffer.window(ix, nw.subarray(w, w + 20_000), w))));
    expect(a).toEqual(joinWindows(diffInWindows(old, nw, 20_000)));
  });

  // The chain keys every 2nd old position (8-byte keys), so a match the suffix array finds at one
  // position is found, a byte shorter at most, from that position or the next.
  it('finds the matches a suffix array finds (from the same or the next position)', () => {
    const r = rng(21);
    const old = randomBytes(200_000, r);
    const nw = derive(old, r, 100_000);
    const sa = new SuffixMatcher(old);
    const chain = new HashChainMatcher(old);
    let checked = 0;
    for (let p = 0; p + 1 < nw.length; p += 1 + Math.floor(r() * 40)) {
      const want = sa.find(nw, p, nw.length);
      if (want < 10) continue;
      checked++;
      const got = Math.max(chain.find(nw, p, nw.length), chain.find(nw, p + 1, nw.length) + 1);
      expect(got).toBeGreaterThanOrEqual(want);
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
