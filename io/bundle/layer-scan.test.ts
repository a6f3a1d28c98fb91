import { Readable } from 'node:stream';
import { pack, type Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { BundleError } from '../../core/bundle/errors.js';
import { sha256 } from '../digest.js';
import { scanLayer } from './layer-scan.js';

function tar(entries: Array<Partial<Header> & { name: string; body?: string }>): Readable {
  const p = pack();
  for (const { body, ...h } of entries) p.entry(h as Header, body ?? '');
  p.finalize();
  return p as unknown as Readable;
}

describe('scanLayer', () => {
  it('fingerprints files with size and content hash', async () => {
    const { files, tarSize } = await scanLayer(tar([{ name: './etc/', type: 'directory' }, { name: './etc/hosts', body: 'hello' }, { name: 'bin/sh', type: 'symlink', linkname: '/bin/dash' }]));
    expect(files).toEqual([{ path: 'etc', size: 0 }, { path: 'etc/hosts', size: 5, hash: sha256('hello') }, { path: 'bin/sh', size: 0 }]);
    expect(tarSize).toBe(512 * 4 + 1024); // three headers, one data block, the two end blocks
  });

  it.each([
    ['dot-dot', [{ name: '../../etc/passwd', body: 'x' }], /climbs out/],
    ['dot-dot inside', [{ name: 'usr/../../etc/passwd', body: 'x' }], /climbs out/],
    ['absolute', [{ name: '/etc/passwd', body: 'x' }], /absolute/],
    ['hardlink out', [{ name: 'h', type: 'link', linkname: '../../etc/shadow' }], /climbs out/],
    ['hardlink absolute', [{ name: 'h', type: 'link', linkname: '/etc/shadow' }], /absolute/],
    ['through symlink', [{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/passwd', body: 'x' }], /through symlink/],
    ['hardlink through symlink', [{ name: 'l', type: 'symlink', linkname: '/' }, { name: 'h', type: 'link', linkname: 'l/etc/shadow' }], /through symlink/],
  ] as Array<[string, Array<Partial<Header> & { name: string; body?: string }>, RegExp]>)('refuses %s', async (_name, entries, why) => {
    const err = await scanLayer(tar(entries)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).code).toBe('unsafe-entry');
    expect((err as Error).message).toMatch(why);
  });

  it('accepts a symlink replaced by a directory before files go under it', async () => {
    await expect(scanLayer(tar([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l', type: 'directory' }, { name: 'l/x', body: 'y' }]))).resolves.toMatchObject({ files: { length: 3 } });
  });
});
