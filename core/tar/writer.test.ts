import { describe, expect, it } from 'vitest';
import tarStream from 'tar-stream';
import { rng } from '../delta/testing.js';
import { ustarHeader } from './writer.js';

/** The header tar-stream's pack writes for an entry: its first chunk, pushed when the entry opens (the pack is then dropped). */
async function packed(h: { name: string; size: number; type: 'file' | 'directory'; mode: number; mtime: number }): Promise<Uint8Array> {
  const pack = tarStream.pack();
  pack.on('error', () => undefined);
  const first = new Promise<Buffer>((res) => pack.once('data', (c: unknown) => res(c as Buffer)));
  const e = pack.entry({ name: h.name, size: h.size, type: h.type, mode: h.mode, mtime: new Date(h.mtime * 1000) }, () => undefined);
  e.on('error', () => undefined);
  const header = new Uint8Array(await first);
  pack.destroy();
  return header;
}

describe('ustarHeader', () => {
  it("writes tar-stream's header bytes for the entries of a docker archive, and random names and sizes", async () => {
    const hex = 'ab'.repeat(32);
    const cases: Array<Parameters<typeof ustarHeader>[0]> = [
      { name: `${hex}.tar`, size: 170_592_768, type: 'file', mode: 0o644, mtime: 0 },
      { name: `blobs/sha256/${hex}`, size: 1620, type: 'file', mode: 0o644, mtime: 0 },
      { name: 'manifest.json', size: 281, type: 'file', mode: 0o644, mtime: 0 },
      { name: 'blobs/', size: 0, type: 'directory', mode: 0o755, mtime: 0 },
      { name: 'blobs/sha256', size: 0, type: 'directory', mode: 0o755, mtime: 0 },
      { name: `${'d/'.repeat(60)}x`, size: 9 * 2 ** 30, type: 'file', mode: 0o600, mtime: 1_700_000_000 },
    ];
    const r = rng(3);
    for (let k = 0; k < 40; k++) {
      const parts = Array.from({ length: 1 + Math.floor(r() * 12) }, () => 'abcdefghij'.slice(0, 1 + Math.floor(r() * 10)));
      cases.push({ name: parts.join('/'), size: Math.floor(r() * 2 ** (r() * 40)), type: 'file', mode: 0o644, mtime: Math.floor(r() * 2 ** 31) });
    }
    for (const c of cases) expect(ustarHeader(c)).toEqual(await packed(c));
  });

  it('refuses names a ustar header cannot hold', () => {
    expect(() => ustarHeader({ name: 'x'.repeat(101), size: 0, type: 'file', mode: 0o644, mtime: 0 })).toThrow(/too long/);
    expect(() => ustarHeader({ name: 'caf\u00e9', size: 0, type: 'file', mode: 0o644, mtime: 0 })).toThrow(/ASCII/);
  });
});
