import { describe, expect, it } from 'vitest';
import { readTriple, readTripleNow } from './bsdiff.js';
import { BlockCache, blockPlan, bufferSource, ByteWriter, ChunkReader, copyBytes, CorruptPatchError, i32le, put32le, u16le, u32le, u64le } from './bytes.js';
import { rng } from './testing.js';

describe('BlockCache', () => {
  it('returns the source bytes for random reads, within one block, while evicting', async () => {
    const rand = rng(7);
    const bytes = new Uint8Array(100_003).map(() => Math.floor(rand() * 256));
    let reads = 0;
    const src = bufferSource(bytes);
    const counted = { size: src.size, read: (o: number, n: number) => (reads++, src.read(o, n)) };
    const cache = new BlockCache(counted, 1000, 8);
    for (let i = 0; i < 2000; i++) {
      const at = Math.floor(rand() * bytes.length);
      const max = 1 + Math.floor(rand() * 3000);
      const v = cache.now(at, max) ?? (await cache.get(at, max));
      expect(v.length).toBeGreaterThan(0);
      expect(v.length).toBeLessThanOrEqual(Math.min(max, 1000 - (at % 1000)));
      expect(v).toEqual(bytes.subarray(at, at + v.length));
    }
    // 101 blocks, 8 cached: misses happen, but far fewer than reads asked for.
    expect(reads).toBeGreaterThan(8);
    expect(reads).toBeLessThan(2000);
    await expect(cache.get(bytes.length, 1)).rejects.toThrow(RangeError);
  });

  it('copies the source bytes into a buffer, now while the block is cached and after reading it otherwise', async () => {
    const rand = rng(11);
    const bytes = new Uint8Array(50_021).map(() => Math.floor(rand() * 256));
    const cache = new BlockCache(bufferSource(bytes), 512, 6);
    const out = new Uint8Array(4000);
    let now = 0;
    for (let i = 0; i < 1000; i++) {
      const at = Math.floor(rand() * bytes.length);
      const max = 1 + Math.floor(rand() * 1500);
      const into = Math.floor(rand() * (out.length - max));
      let n = cache.copyNow(at, max, out, into);
      if (n > 0) now++;
      else n = await cache.copy(at, max, out, into);
      expect(n).toBe(Math.min(max, 512 - (at % 512), bytes.length - at));
      expect(out.subarray(into, into + n)).toEqual(bytes.subarray(at, at + n));
    }
    expect(now).toBeGreaterThan(0);
    expect(now).toBeLessThan(1000);
  });

  it('reads each block once when walked forwards', async () => {
    let reads = 0;
    const src = bufferSource(new Uint8Array(10_000));
    const cache = new BlockCache({ size: src.size, read: (o, n) => (reads++, src.read(o, n)) }, 1024, 2);
    for (let at = 0; at < 10_000; ) at += (cache.now(at, 100) ?? (await cache.get(at, 100))).length;
    expect(reads).toBe(10);
  });
});

describe('BlockCache with a plan', () => {
  /** Reads of `sequence` (block indices) through a cache of `size` blocks evicting by next use, simulated apart. */
  const belady = (sequence: number[], size: number): number => {
    const cached = new Set<number>();
    let reads = 0;
    sequence.forEach((b, i) => {
      if (cached.has(b)) return;
      reads++;
      if (cached.size >= size) {
        const next = (c: number) => {
          const j = sequence.indexOf(c, i + 1);
          return j < 0 ? Infinity : j;
        };
        let worst = -1;
        for (const c of cached) if (worst < 0 || next(c) > next(worst)) worst = c;
        cached.delete(worst);
      }
      cached.add(b);
    });
    return reads;
  };

  it('returns the source bytes and reads as often as evicting by next use does, fewer than by least recent use', async () => {
    const rand = rng(5);
    const block = 256;
    const bytes = new Uint8Array(65 * block).map(() => Math.floor(rand() * 256));
    // nearby jumps with returns, as a delta's old position moves; no block twice in a row
    const sequence: number[] = [];
    for (let at = 0; sequence.length < 3000; ) {
      at = Math.max(0, Math.min(64, at + Math.floor(rand() * 9) - 4));
      if (at !== sequence.at(-1)) sequence.push(at);
    }
    const reads = { plan: 0, lru: 0, now: 0 };
    const counted = (k: 'plan' | 'lru') => {
      // copies, as a file's reads are: evicted blocks are read into again
      return { size: bytes.length, read: async (o: number, n: number) => (reads[k]++, bytes.slice(o, o + n)), readInto: async (into: Uint8Array, o: number) => (reads[k]++, into.set(bytes.subarray(o, o + into.length))) };
    };
    // one that reads without waiting, though not at first (a file range before its check)
    let refusals = 0;
    const readsNow = {
      ...counted('plan'),
      read: async (o: number, n: number) => (reads.now++, bytes.slice(o, o + n)),
      readInto: async (into: Uint8Array, o: number) => (reads.now++, into.set(bytes.subarray(o, o + into.length))),
      readIntoNow: (into: Uint8Array, o: number) => refusals++ >= 10 && (reads.now++, into.set(bytes.subarray(o, o + into.length)), true),
    };
    const planned = new BlockCache(counted('plan'), block, 6, blockPlan(Int32Array.from(sequence), 65));
    const lru = new BlockCache(counted('lru'), block, 6);
    const now = new BlockCache(readsNow, block, 6, blockPlan(Int32Array.from(sequence), 65));
    const out = new Uint8Array(2 * block);
    for (const b of sequence) {
      // each use asks for a random part of its block, some in two steps (one use: the same block)
      const at = b * block + Math.floor(rand() * 100);
      for (const cache of [planned, lru]) {
        let n = cache.copyNow(at, 50, out, 0) || (await cache.copy(at, 50, out, 0));
        n += cache.copyNow(at + n, 50, out, n) || (await cache.copy(at + n, 50, out, n));
        expect(out.subarray(0, n)).toEqual(bytes.subarray(at, at + n));
      }
      let n = now.copyReadNow(at, 50, out, 0) || (await now.copy(at, 50, out, 0));
      n += now.copyReadNow(at + n, 50, out, n) || (await now.copy(at + n, 50, out, n));
      expect(out.subarray(0, n)).toEqual(bytes.subarray(at, at + n));
    }
    expect(reads.plan).toBe(belady(sequence, 6));
    expect(reads.plan).toBeLessThan(reads.lru);
    expect(reads.now).toBe(reads.plan);
    expect(refusals).toBeGreaterThan(10);
  });

  it('still returns the source bytes when asked for blocks off its plan', async () => {
    const rand = rng(9);
    const bytes = new Uint8Array(20_000).map(() => Math.floor(rand() * 256));
    const cache = new BlockCache(bufferSource(bytes), 1000, 3, blockPlan(Int32Array.from([0, 1, 2, 3]), 20));
    for (let i = 0; i < 500; i++) {
      const at = Math.floor(rand() * bytes.length);
      const v = cache.now(at, 300) ?? (await cache.get(at, 300));
      expect(v).toEqual(bytes.subarray(at, at + v.length));
    }
  });
});

describe('ChunkReader synchronous varints', () => {
  it('decodes buffered varints now and leaves a varint split across chunks to the async path', async () => {
    const w = new ByteWriter();
    const values = [0, 1, 127, 128, 300, 2 ** 35, 5, 2 ** 50];
    for (const v of values) w.uvar(v);
    const all = w.view();
    // Chunk boundaries inside multi-byte varints.
    const chunks = [all.subarray(0, 3), all.subarray(3, 9), all.subarray(9)];
    const r = new ChunkReader((async function* () { yield* chunks; })()[Symbol.asyncIterator](), 'test');
    const got: number[] = [];
    let sync = 0;
    for (let i = 0; i < values.length; i++) {
      const v = r.uvarNow();
      if (v >= 0) sync++;
      got.push(v >= 0 ? v : await r.uvar());
    }
    expect(got).toEqual(values);
    expect(sync).toBeGreaterThan(0);
    expect(sync).toBeLessThan(values.length);
    expect(await r.atEnd()).toBe(true);
  });
});

describe('little-endian fields', () => {
  it('read what DataView reads and put32le writes what it reads back', () => {
    const rand = rng(11);
    const b = new Uint8Array(4096).map(() => Math.floor(rand() * 256));
    const dv = new DataView(b.buffer);
    for (let p = 0; p + 8 <= b.length; p += 3) {
      expect(u16le(b, p)).toBe(dv.getUint16(p, true));
      expect(i32le(b, p)).toBe(dv.getInt32(p, true));
      expect(u32le(b, p)).toBe(dv.getUint32(p, true));
      const big = dv.getBigUint64(p, true);
      expect(u64le(b, p)).toBe(big < 2n ** 53n ? Number(big) : Number.MAX_SAFE_INTEGER);
    }
    b.fill(0, 0, 8);
    b[6] = 0x1f; // 2^53 − 2^48: still exact
    expect(u64le(b, 0)).toBe(0x1f * 2 ** 48);
    b[6] = 0x20; // 2^53: out of range
    expect(u64le(b, 0)).toBe(Number.MAX_SAFE_INTEGER);
    const out = new Uint8Array(8);
    for (const v of [0, 1, -1, 0x7fffffff, -0x80000000, 0xffffffff, 2 ** 32 + 5, -(2 ** 31) - 7]) {
      put32le(out, 2, v);
      expect(u32le(out, 2)).toBe(v >>> 0);
      expect(i32le(out, 2)).toBe(v | 0);
    }
  });
});

/** A reader over `all` cut at random points (chunks of 0 to 40 bytes, empty ones included). */
function chunked(all: Uint8Array, seed: number): ChunkReader {
  const rand = rng(seed);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < all.length; ) {
    const n = Math.floor(rand() * 41);
    chunks.push(all.subarray(at, at + n));
    at += n;
  }
  return new ChunkReader((async function* () { yield* chunks; })()[Symbol.asyncIterator](), 'test');
}

describe('ChunkReader in place', () => {
  it('adds and copies its bytes into a buffer across random chunk boundaries, failing past the end', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = rng(seed);
      const len = Math.floor(rand() * 3000);
      const src = new Uint8Array(len).map(() => Math.floor(rand() * 256));
      const base = new Uint8Array(len).map(() => Math.floor(rand() * 256));
      const r = chunked(src, seed + 100);
      const out = base.slice();
      for (let at = 0; at < len; ) {
        const max = 1 + Math.floor(rand() * 50);
        const add = rand() < 0.5;
        let n = add ? r.addNow(out, at, max) : r.copyNow(out, at, max);
        if (n === 0) n = await (add ? r.add(out, at, max) : r.copyInto(out, at, max));
        expect(n).toBeGreaterThan(0);
        expect(n).toBeLessThanOrEqual(Math.min(max, len - at));
        for (let i = at; i < at + n; i++) expect(out[i]).toBe(add ? (base[i]! + src[i]!) & 0xff : src[i]);
        at += n;
      }
      expect(await r.atEnd()).toBe(true);
      await expect(r.add(out, 0, 1)).rejects.toThrow(CorruptPatchError);
    }
  });

  it('copyBytes copies short and long runs exactly', () => {
    const rand = rng(5);
    const from = new Uint8Array(500).map(() => Math.floor(rand() * 256));
    for (const n of [0, 1, 63, 64, 65, 300]) {
      const to = new Uint8Array(600);
      copyBytes(to, 7, from, 11, n);
      expect(to.subarray(7, 7 + n)).toEqual(from.subarray(11, 11 + n));
      expect(to.subarray(0, 7).every((b) => b === 0) && to.subarray(7 + n).every((b) => b === 0)).toBe(true);
    }
  });
});

describe('readTripleNow', () => {
  it('reads the triples readTriple reads, leaving the ones not buffered whole to it', async () => {
    const rand = rng(9);
    const w = new ByteWriter();
    const want: Array<[number, number, number]> = [];
    let oldPos = 0;
    for (let i = 0; i < 300; i++) {
      const seek = Math.floor(rand() * 1000);
      const add = Math.floor(rand() * (rand() < 0.1 ? 2 ** 30 : 200));
      const extra = Math.floor(rand() * 100);
      w.svar(seek - oldPos);
      w.uvar(add);
      w.uvar(extra);
      want.push([seek, add, extra]);
      oldPos = seek + add;
    }
    const r = chunked(w.view(), 3);
    let now = 0;
    let pos = 0;
    for (const t of want) {
      const got = readTripleNow(r, pos, 0, 2 ** 31, 2 ** 52);
      if (got) now++;
      expect(got ?? (await readTriple(r, pos, 0, 2 ** 31, 2 ** 52))).toEqual(t);
      pos = t[0] + t[1];
    }
    expect(now).toBeGreaterThan(0);
    expect(now).toBeLessThan(want.length);
    expect(await r.atEnd()).toBe(true);
  });

  it('refuses an overlong varint and a triple outside the files', () => {
    const w = new ByteWriter();
    for (let i = 0; i < 30; i++) w.byte(0x80);
    const overlong = new ChunkReader((async function* () { yield w.view(); })()[Symbol.asyncIterator](), 'test');
    return (async () => {
      await overlong.atEnd(); // pulls the chunk in
      expect(() => readTripleNow(overlong, 0, 0, 100, 100)).toThrow(/overlong/);
      const t = new ByteWriter();
      t.svar(50);
      t.uvar(60);
      t.uvar(0);
      for (let i = 0; i < 30; i++) t.byte(0);
      const out = new ChunkReader((async function* () { yield t.view(); })()[Symbol.asyncIterator](), 'test');
      await out.atEnd();
      expect(() => readTripleNow(out, 0, 0, 100, 100)).toThrow(/out of bounds/);
    })();
  });
});
