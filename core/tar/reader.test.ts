import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, linkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPatch } from '../delta/build.js';
import { bufferSource } from '../delta/bytes.js';
import { memoryEnv } from '../delta/testing.js';
import { readTarLayout } from './reader.js';

const work = mkdtempSync(join(tmpdir(), 'lighter-tar-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const hash = () => {
  const h = createHash('sha256');
  return { update: (b: Uint8Array) => void h.update(b), digest: () => `sha256:${h.digest('hex')}` };
};
const digest = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function pseudo(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0, x = 1; i < n; i++) b[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return b;
}

/** A directory tree with long names, links, odd sizes; `version` changes some of it. */
function tree(name: string, version: number): string {
  const root = join(work, name);
  const long = join(root, 'a'.repeat(60), 'b'.repeat(60));
  mkdirSync(long, { recursive: true });
  writeFileSync(join(long, `${'c'.repeat(90)}.txt`), `long name file v${version}\n`.repeat(40));
  writeFileSync(join(root, 'odd.bin'), Buffer.alloc(1000 + version, 7));
  writeFileSync(join(root, 'same.txt'), 'unchanged content\n'.repeat(100));
  const code = Array.from({ length: 4000 }, (_, i) => `line ${i} ${i % 17 === 0 ? version : 0}\n`).join('');
  writeFileSync(join(root, 'code.js'), code);
  if (version === 1) writeFileSync(join(root, 'removed.txt'), 'only in v1');
  else writeFileSync(join(root, 'added.txt'), 'only in v2 '.repeat(50));
  writeFileSync(join(root, 'empty'), '');
  symlinkSync('code.js', join(root, 'link-to-code'));
  linkSync(join(root, 'same.txt'), join(root, 'hardlink-to-same'));
  mkdirSync(join(root, 'moved', 'deeper'), { recursive: true });
  writeFileSync(join(root, version === 1 ? 'moved/data.bin' : 'moved/deeper/data.bin'), pseudo(5000)); // same content, new place
  for (const f of ['odd.bin', 'same.txt', 'code.js', 'empty']) utimesSync(join(root, f), 1_700_000_000 + version * 1000, 1_700_000_000 + version * 1000);
  return root;
}

function tar(root: string, format: string, out: string): Uint8Array {
  execFileSync('tar', ['-C', root, `--format=${format}`, '--sort=name', '-cf', out, '.']);
  return readFileSync(out);
}

describe('readTarLayout', () => {
  it('finds every entry with its full path, type and content offsets', async () => {
    const root = tree('layout', 1);
    for (const format of ['gnu', 'pax', 'ustar']) {
      if (format === 'ustar') continue; // ustar cannot hold the 215-byte path; covered by gnu and pax
      const bytes = tar(root, format, join(work, `layout.${format}.tar`));
      const layout = await readTarLayout(bufferSource(bytes));
      const byPath = new Map(layout.entries.map((e) => [e.path.replace(/^\.\//, ''), e]));
      const longPath = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(90)}.txt`;
      const e = byPath.get(longPath)!;
      expect(e, format).toBeDefined();
      expect(new TextDecoder().decode(bytes.subarray(e.dataOffset, e.dataOffset + e.size))).toBe('long name file v1\n'.repeat(40));
      expect(byPath.get('link-to-code')!.type).toBe('2');
      expect(byPath.get('hardlink-to-same')?.type ?? byPath.get('same.txt')!.type).toMatch(/[01]/);
      expect(byPath.get('odd.bin')!.size).toBe(1001);
      // GNU tar pads to its 10 KiB record: the trailer holds the end-of-archive blocks and more
      expect(layout.size - layout.trailerOffset).toBeGreaterThanOrEqual(1024);
      expect(layout.entries.at(-1)!.end).toBe(layout.trailerOffset);
    }
  });

  it('treats garbage after the archive, or a broken header, as trailer bytes', async () => {
    const bytes = tar(tree('garbage', 1), 'pax', join(work, 'garbage.tar'));
    const withTail = new Uint8Array(bytes.length + 777);
    withTail.set(bytes);
    withTail.fill(0x5a, bytes.length);
    const a = await readTarLayout(bufferSource(withTail));
    const b = await readTarLayout(bufferSource(bytes));
    expect(a.entries.length).toBe(b.entries.length);
    const broken = bytes.slice();
    const at = b.entries[3]!.start + 148; // checksum field
    broken[at] = broken[at]! ^ 1;
    expect((await readTarLayout(bufferSource(broken))).entries.length).toBeLessThan(b.entries.length);
  });
});

describe('layer round trip through the delta engine', () => {
  const cases: Array<[string, string, (b: Uint8Array) => Uint8Array]> = [
    ['gnu (long-name records)', 'gnu', (b) => b],
    ['pax (extended headers)', 'pax', (b) => b],
    ['pax with trailing garbage', 'pax', (b) => Uint8Array.from([...b, 1, 2, 3, 0, 0, 9])],
    ['pax with nonzero padding', 'pax', (b) => b],
  ];
  it.each(cases)('%s rebuilds byte for byte', async (name, format, tweak) => {
    const base = tar(tree(`${name}-1`, 1), format, join(work, `${name}-1.tar`));
    let target = tweak(tar(tree(`${name}-2`, 2), format, join(work, `${name}-2.tar`)));
    if (name.includes('nonzero padding')) {
      const layout = await readTarLayout(bufferSource(target));
      const odd = layout.entries.find((e) => e.path.endsWith('odd.bin'))!;
      target = target.slice();
      target[odd.dataOffset + odd.size + 3] = 0xee;
    }
    const { env, rebuild } = memoryEnv(hash);
    const header = await buildPatch(
      { configDigest: digest(Uint8Array.of(1)), diffIDs: [digest(base)], layers: [bufferSource(base)] },
      { configDigest: digest(Uint8Array.of(2)), configBytes: Uint8Array.of(2), repoTags: [], diffIDs: [digest(target)], layers: [bufferSource(target)] },
      env,
    );
    const rebuilt = await rebuild(header, 0, [bufferSource(base)]);
    expect(digest(rebuilt)).toBe(digest(target));
    const l = header.layers[0]!;
    if (l.from !== 'patch') throw new Error('expected a carried layer');
    // unchanged and moved files are references, so the patch is far smaller than the layer
    expect(l.sections.lit.rawLength).toBeLessThan(2000);
  });

  it('rebuilds a layer with no base at all (first image)', async () => {
    const target = tar(tree('first', 2), 'pax', join(work, 'first.tar'));
    const { env, rebuild } = memoryEnv(hash);
    const header = await buildPatch(null, { configDigest: digest(Uint8Array.of(2)), configBytes: Uint8Array.of(2), repoTags: [], diffIDs: [digest(target)], layers: [bufferSource(target)] }, env);
    expect(header.base).toEqual({ configDigest: null, diffIDs: [] });
    expect(digest(await rebuild(header, 0, []))).toBe(digest(target));
  });
});
