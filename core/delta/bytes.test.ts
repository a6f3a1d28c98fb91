import { describe, expect, it } from 'vitest';
import { BlockCache, bufferSource, ByteWriter, ChunkReader, i32le, put32le, u16le, u32le, u64le } from './bytes.js';
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

  it('reads each block once when walked forwards', async () => {
    let reads = 0;
    const src = bufferSource(new Uint8Array(10_000));
    const cache = new BlockCache({ size: src.size, read: (o, n) => (reads++, src.read(o, n)) }, 1024, 2);
    for (let at = 0; at < 10_000; ) at += (cache.now(at, 100) ?? (await cache.get(at, 100))).length;
    expect(reads).toBe(10);
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
