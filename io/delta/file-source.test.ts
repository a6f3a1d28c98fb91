import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockCache } from '../../core/delta/bytes.js';
import { DigestMismatchError } from '../digest.js';
import { FileRange } from './file-source.js';

describe('FileRange', () => {
  let dir: string;
  let path: string;
  const layer = new Uint8Array(300_000).map((_, i) => (i * 31 + (i >> 9)) & 0xff);
  const digest = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const prefix = 1234;

  beforeAll(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'lighter-filerange-'));
    path = join(dir, 'archive');
    await fs.writeFile(path, Buffer.concat([Buffer.alloc(prefix, 7), layer, Buffer.alloc(99, 9)]));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('reads the layer in place, through read and readInto, after checking its digest', async () => {
    const r = await FileRange.open(path, prefix, layer.length, digest, 'base layer 0');
    try {
      expect(r.size).toBe(layer.length);
      expect(new Uint8Array(await r.read(1000, 5000))).toEqual(layer.subarray(1000, 6000));
      const cache = new BlockCache(r, 4096, 4);
      for (const at of [0, 299_999, 150_000, 4095, 4096]) expect((await cache.get(at, 10))[0]).toBe(layer[at]);
      await expect(r.read(layer.length - 1, 2)).rejects.toThrow(RangeError);
    } finally {
      await r.close();
    }
  });

  it('fails the first read with a digest mismatch when the bytes are not the layer', async () => {
    const r = await FileRange.open(path, prefix + 1, layer.length, digest, 'base layer 0');
    try {
      const err = await r.read(0, 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DigestMismatchError);
      expect((err as Error).message).toContain('base layer 0');
      // and every later read too: nothing unverified is handed out
      await expect(r.read(10, 1)).rejects.toBeInstanceOf(DigestMismatchError);
    } finally {
      await r.close();
    }
  });

  it('refuses a range the file does not hold', async () => {
    await expect(FileRange.open(path, prefix, layer.length + 1000, digest, 'base layer 0')).rejects.toThrow(/shorter than the layer/);
  });
});
