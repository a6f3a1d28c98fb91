import { describe, expect, it } from 'vitest';
import { HashChainMatcher, SuffixMatcher, type Matcher } from './matcher.js';
import { VarintReader } from './bytes.js';
import { newDiffOutput, writeDiff } from './bsdiff.js';
import { randomBytes, rng, roundTrip } from './testing.js';

/** Random edits: byte changes, insertions, deletions, moved blocks. */
function mutate(old: Uint8Array, r: () => number, edits: number): Uint8Array {
  let b = Array.from(old);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(r() * (b.length + 1));
    const kind = Math.floor(r() * 4);
    if (kind === 0 && b.length) b[Math.min(at, b.length - 1)] = Math.floor(r() * 256);
    if (kind === 1) b.splice(at, 0, ...randomBytes(1 + Math.floor(r() * 50), r));
    if (kind === 2) b.splice(at, 1 + Math.floor(r() * 50));
    if (kind === 3) b = [...b.slice(at), ...b.slice(0, at)];
  }
  return Uint8Array.from(b);
}

const matchers: Array<[string, (old: Uint8Array) => Matcher]> = [
  ['suffix array', (old) => new SuffixMatcher(old)],
  ['hash chain', (old) => new HashChainMatcher(old)],
];

describe.each(matchers)('bsdiff with %s matcher', (_name, make) => {
  const check = async (old: Uint8Array, nw: Uint8Array, window?: number) => {
    const { rebuilt, out } = await roundTrip(old, nw, make(old), window);
    expect(Buffer.from(rebuilt).equals(Buffer.from(nw))).toBe(true);
    return out;
  };

  // The hash chain keys every 2nd old position, so it sees a match from one of its first 2 bytes.
  it('finds a match of KEY + step − 1 (9) bytes anywhere, from one of its first 2 positions', () => {
    const r = rng(9);
    const old = randomBytes(100_000, r);
    const matcher = make(old);
    for (let trial = 0; trial < 50; trial++) {
      const nw = randomBytes(1000, r);
      const from = Math.floor(r() * (old.length - 9));
      nw.set(old.subarray(from, from + 9), 500);
      const at = matcher.find(nw, 500, nw.length) >= 9 ? 500 : 501;
      const len = matcher.find(nw, at, nw.length);
      expect(len).toBeGreaterThanOrEqual(509 - at);
      expect(Buffer.from(old.subarray(matcher.pos, matcher.pos + len)).equals(Buffer.from(nw.subarray(at, at + len)))).toBe(true);
    }
  });

  it('handles empty inputs', async () => {
    await check(new Uint8Array(0), new Uint8Array(0));
    await check(new Uint8Array(0), Uint8Array.of(1, 2, 3));
    await check(Uint8Array.of(1, 2, 3), new Uint8Array(0));
  });

  it('encodes identical inputs as a single all-zero difference', async () => {
    const old = randomBytes(100_000, rng(1));
    const out = await check(old, old);
    expect(out.extra.length).toBe(0);
    expect(out.diff.length).toBeLessThan(16);
  });

  it('encodes completely different inputs as (mostly) literal bytes', async () => {
    const old = randomBytes(50_000, rng(2));
    const nw = randomBytes(50_000, rng(3));
    const out = await check(old, nw);
    expect(out.extra.length + out.diff.length).toBeGreaterThan(45_000);
  });

  it('costs a few bytes for a one-byte change', async () => {
    const old = randomBytes(200_000, rng(4));
    const nw = old.slice();
    nw[123_456] = old[123_456]! ^ 0x55;
    const out = await check(old, nw);
    expect(out.extra.length + out.runs.length + out.diff.length + out.ctrl.length).toBeLessThan(32);
  });

  it('survives long repeats without going quadratic', async () => {
    const old = new Uint8Array(1 << 20).fill(0x61);
    const nw = new Uint8Array((1 << 20) + 3000).fill(0x61);
    nw.set([1, 2, 3], 500_000);
    const t = Date.now();
    await check(old, nw);
    const pattern = new Uint8Array(1 << 20);
    for (let i = 0; i < pattern.length; i++) pattern[i] = (i % 7) * 13;
    await check(pattern, mutate(pattern, rng(5), 5));
    expect(Date.now() - t).toBeLessThan(20_000);
  });

  it('works across windows of the new bytes (input larger than a window)', async () => {
    const r = rng(6);
    const old = randomBytes(300_000, r);
    const nw = mutate(old, r, 30);
    const out = await check(old, nw, 65_536);
    expect(out.extra.length).toBeLessThan(10_000);
  });

  it('round-trips long unchanged runs (read straight into the output, past the old-byte cache) between a few edits', async () => {
    const r = rng(12);
    const old = randomBytes(1 << 20, r);
    const nw = old.slice();
    for (const at of [1000, 300_000, 700_001]) nw[at] = nw[at]! ^ 0xff;
    await check(old, nw);
  });

  it('round-trips random mutations exactly', async () => {
    const r = rng(8);
    for (let trial = 0; trial < 40; trial++) {
      const old = randomBytes(Math.floor(r() * 20_000), r, trial % 2 ? 4 : 256);
      await check(old, mutate(old, r, Math.floor(r() * 20)), trial % 3 === 0 ? 4096 : undefined);
    }
  });
});

/** Triples (seek, add, extra) of a control stream. */
function triples(ctrl: Uint8Array): Array<[number, number, number]> {
  const v = new VarintReader(ctrl);
  const out: Array<[number, number, number]> = [];
  while (v.pos < ctrl.length) out.push([v.svar(), v.uvar(), v.uvar()]);
  return out;
}

describe('cover selection', () => {
  // Old bytes with a change every few dozen bytes on one diagonal, some with a short piece copied
  // from elsewhere after them: chance matches the selection should drop.
  const sparseEdits = (r: () => number, n: number, every: number) => {
    const old = randomBytes(n, r);
    const nw = old.slice();
    for (let i = every; i < n; i += every + Math.floor(r() * every)) {
      nw[i] = Math.floor(r() * 256);
      if (r() < 0.3 && i + 12 < n) {
        const from = Math.floor(r() * (n - 10));
        nw.set(old.subarray(from, from + 10), i + 1);
      }
    }
    return { old, nw };
  };

  it('round-trips random mutated inputs exactly, whole and windowed, with either matcher', async () => {
    const r = rng(15);
    for (let trial = 0; trial < 30; trial++) {
      const { old, nw } = trial % 2 ? sparseEdits(r, 1000 + Math.floor(r() * 30_000), 8 + Math.floor(r() * 60)) : (() => {
        const o = randomBytes(Math.floor(r() * 20_000), r, trial % 4 ? 256 : 3);
        return { old: o, nw: mutate(o, r, Math.floor(r() * 40)) };
      })();
      const matcher = trial % 3 ? new HashChainMatcher(old) : new SuffixMatcher(old);
      const { rebuilt } = await roundTrip(old, nw, matcher, trial % 5 === 0 ? 2048 : undefined);
      expect(Buffer.from(rebuilt).equals(Buffer.from(nw))).toBe(true);
    }
  });

  it('drops short chance matches that cost more as a triple than as literal bytes', async () => {
    const { old, nw } = sparseEdits(rng(3), 64_000, 40);
    const { out } = await roundTrip(old, nw, new SuffixMatcher(old));
    const t = triples(out.ctrl.view());
    // ~330 copied 10-byte pieces from elsewhere: kept, each costs 2 triples (629 triples, 312 literal
    // bytes); dropped, they go literal and the diagonal runs on (315 triples, 3,451 literal bytes)
    expect(t.length).toBeLessThan(400);
    expect(t.reduce((n, [, , extra]) => n + extra, 0)).toBeGreaterThan(2500);
  });

  // A string table whose strings the old file holds twice (as node's .dynstr names sit in .strtab
  // too), in another order, and some new strings between them: a match's backward extension can
  // take all of the cover before it, which would leave a triple that copies and inserts nothing.
  it('writes no triple that copies and inserts nothing (after the first)', async () => {
    const r = rng(21);
    const words = Array.from({ length: 3000 }, () => randomBytes(8 + Math.floor(r() * 40), r, 26).map((b) => b + 97));
    const table = (ws: Uint8Array[]) => Uint8Array.from(ws.flatMap((w) => [...w, 0]));
    const shuffled = words.map((w) => [r(), w] as const).sort((a, b) => a[0] - b[0]).map(([, w]) => w);
    const old = Uint8Array.from([...table(words), ...table(shuffled)]);
    const nw = table(words.flatMap((w, i) => (i % 7 === 3 ? [randomBytes(20, r, 26).map((b) => b + 97), w.subarray(0, 8), w] : [w])));
    for (const matcher of [new SuffixMatcher(old), new HashChainMatcher(old)]) {
      const { rebuilt, out } = await roundTrip(old, nw, matcher);
      expect(Buffer.from(rebuilt).equals(Buffer.from(nw))).toBe(true);
      const t = triples(out.ctrl.view());
      expect(t.length).toBeGreaterThan(100);
      expect(t.slice(1).filter(([, add, extra]) => add === 0 && extra === 0)).toEqual([]);
    }
  });
});

describe('difference runs', () => {
  // Differences where about half the bytes change: every nonzero run must start and end on a
  // changed byte and hold no two equal bytes in a row (they end it), and every zero run between
  // two nonzero ones is at least two bytes long (one that reaches the end may be shorter); the
  // runs and bytes add back to the new bytes.
  it('end a nonzero run at two equal bytes and keep a lone equal byte inline', () => {
    const r = rng(33);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + Math.floor(r() * 400);
      const old = randomBytes(n, r);
      const nw = old.map((b) => (r() < 0.5 ? (b + 1 + Math.floor(r() * 255)) & 0xff : b));
      const out = newDiffOutput();
      writeDiff(out, old, 0, nw, 0, n);
      const runs = new VarintReader(out.runs.view());
      const diff = out.diff.view();
      const rebuilt = new Uint8Array(n);
      let at = 0;
      let d = 0;
      while (at < n) {
        const zeros = runs.uvar();
        const k = runs.uvar();
        if (at > 0 && at + zeros < n) expect(zeros).toBeGreaterThanOrEqual(2);
        for (let j = 0; j < zeros; j++, at++) rebuilt[at] = old[at]!;
        for (let j = 0; j < k; j++, at++) {
          rebuilt[at] = (old[at]! + diff[d++]!) & 0xff;
          if (j > 0 && nw[at] === old[at]) expect(nw[at - 1]).not.toBe(old[at - 1]);
        }
        if (k > 0) expect([nw[at - k] !== old[at - k], nw[at - 1] !== old[at - 1]]).toEqual([true, true]);
      }
      expect(runs.done).toBe(true);
      expect(d).toBe(diff.length);
      expect(Buffer.from(rebuilt).equals(Buffer.from(nw))).toBe(true);
    }
  });
});
