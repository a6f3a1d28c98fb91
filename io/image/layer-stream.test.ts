import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { DiffIDCheck, chain } from './layer-stream.js';
import { layerTarFrom } from './verified-source.js';
import { TarIndex } from './tar-index.js';

const work = mkdtempSync(join(tmpdir(), 'lighter-layer-stream-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const collect = async (s: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

describe('layer streams', () => {
  const tar = Buffer.alloc(300_000);
  for (let i = 0; i < tar.length; i++) tar[i] = (i * 31) % 251;

  it('decompresses gzip and zstd (through the zstd tool) and verifies both digests', async () => {
    const gz = gzipSync(tar);
    const zst = execFileSync('zstd', ['-q', '-c'], { input: tar });
    for (const [compression, blob] of [
      ['gzip', gz],
      ['zstd', zst],
    ] as const) {
      const out = await collect(layerTarFrom(Readable.from([blob]), { what: 'blob', digest: digest(blob), size: blob.length, compression }, digest(tar)));
      expect(out.equals(tar), compression).toBe(true);
    }
  });

  it('fails with the blob named when the stored bytes or the uncompressed tar do not match', async () => {
    const gz = gzipSync(tar);
    const wrongBlob = layerTarFrom(Readable.from([gz]), { what: 'blob X', digest: digest(Buffer.from('other')), size: gz.length, compression: 'gzip' }, digest(tar));
    await expect(collect(wrongBlob)).rejects.toThrow(/digest mismatch for blob X/);
    const wrongDiff = layerTarFrom(Readable.from([gz]), { what: 'blob X', digest: digest(gz), size: gz.length, compression: 'gzip' }, digest(Buffer.from('other')));
    await expect(collect(wrongDiff)).rejects.toThrow(/digest mismatch for layer sha256:[0-9a-f]+ \(uncompressed\)/);
    const short = layerTarFrom(Readable.from([gz.subarray(0, 1000)]), { what: 'blob X', digest: digest(gz), size: gz.length, compression: 'gzip' }, digest(tar));
    await expect(collect(short)).rejects.toThrow(/blob X is truncated: 1000 of/);
  });

  it('checks the diffID of a compressed blob passing through unchanged', async () => {
    const gz = gzipSync(tar);
    expect((await collect(chain(Readable.from([gz]), new DiffIDCheck('gzip', digest(tar))))).equals(gz)).toBe(true);
    await expect(collect(chain(Readable.from([gz]), new DiffIDCheck('gzip', digest(gz))))).rejects.toThrow(/digest mismatch for layer/);
  });
});

describe('TarIndex', () => {
  it('reads long (pax) names and streams entries by offset', async () => {
    const pack = tarStream.pack();
    const long = `${'deep/'.repeat(40)}layer.tar`;
    pack.entry({ name: long }, Buffer.from('hello layer'));
    pack.entry({ name: 'link', type: 'symlink', linkname: long });
    pack.finalize();
    const file = join(work, 'long.tar');
    writeFileSync(file, await collect(pack as unknown as Readable));
    const ix = await TarIndex.open(file);
    const e = ix.file('link');
    expect(e.name).toBe(long);
    expect((await collect(ix.stream(e))).toString()).toBe('hello layer');
  });
});
