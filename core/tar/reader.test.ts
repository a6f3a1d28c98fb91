import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, linkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPatch } from '../delta/build.js';
import { bufferSource } from '../delta/bytes.js';
import { memoryEnv } from '../delta/testing.js';
import { padLength, readTarLayout, streamInput, TarFormatError, TarReader } from './reader.js';
import { archive, concat, header, member, padded, paxData } from './testing.js';

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

describe('padLength', () => {
  it('pads to whole blocks', () => {
    expect([0, 1, 511, 512, 513, 1024, 1025].map(padLength)).toEqual([0, 511, 1, 0, 511, 0, 511]);
  });
});

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

const enc = (s: string) => new TextEncoder().encode(s);
/** The archive as a stream of 7-byte chunks, so every header and record spans chunks. */
async function* sevens(b: Uint8Array) {
  for (let i = 0; i < b.length; i += 7) yield b.subarray(i, i + 7);
}
async function streamed(b: Uint8Array): Promise<Array<{ path: string; type: string; content: string }>> {
  const reader = new TarReader(streamInput(sevens(b)));
  const out = [];
  for (let e = await reader.next(); e; e = await reader.next()) {
    let content = '';
    for (let c = await reader.content(5); c.length > 0; c = await reader.content(5)) content += new TextDecoder().decode(c);
    out.push({ path: e.path, type: e.type, content });
  }
  await reader.finish();
  return out;
}
const members = async (b: Uint8Array) => (await readTarLayout(bufferSource(b))).entries.filter((e) => !e.global).map((e) => e.path);

describe('one reading of tar headers', () => {
  it('applies a pax global header to every entry after it (POSIX), overridden per entry by an x record', async () => {
    const tar = archive(
      member({ name: 'pax_global_header', type: 'g' }, paxData([['path', 'renamed'], ['comment', 'build 7']])),
      member({ name: 'a' }, 'aaa'),
      member({ name: 'x1', type: 'x' }, paxData([['path', '']])), // an empty value removes the global for this entry
      member({ name: 'b' }, 'bb'),
      member({ name: 'c' }, 'c'),
      member({ name: 'pax_global_header', type: 'g' }, paxData([['path', '']])), // and from here on
      member({ name: 'd' }, 'd'),
    );
    expect(await members(tar)).toEqual(['renamed', 'b', 'renamed', 'd']);
    const layout = await readTarLayout(bufferSource(tar));
    // the global header keeps its own slot (patches number base entries so), flagged as not a file
    expect(layout.entries.map((e) => e.type)).toEqual(['g', '0', '0', '0', 'g', '0']);
    expect([...layout.entries[0]!.global!]).toEqual([['path', 'renamed'], ['comment', 'build 7']]);
    expect((await streamed(tar)).map((e) => [e.path, e.content])).toEqual([
      ['pax_global_header', ''],
      ['renamed', 'aaa'],
      ['b', 'bb'],
      ['renamed', 'c'],
      ['pax_global_header', ''],
      ['d', 'd'],
    ]);
  });

  it('counts pax record lengths in bytes, so UTF-8 names do not shift the records after them', async () => {
    const tar = archive(member({ name: 'PaxHeaders/x', type: 'x' }, paxData([['path', 'dir/héllo-wörld-ß.txt'], ['linkpath', 'ziel-ä'], ['mtime', '1700000000.5']])), member({ name: 'short', type: '2' }));
    const [e] = (await readTarLayout(bufferSource(tar))).entries;
    expect([e!.path, e!.linkpath]).toEqual(['dir/héllo-wörld-ß.txt', 'ziel-ä']);
  });

  it('gives links, directories and devices no content whatever their size field says: a size cannot hide a header', async () => {
    const hidden = member({ name: '../escape' }, 'x');
    const tar = archive(concat(header({ name: 'link', type: '2', linkname: 'a', size: hidden.length })), hidden, member({ name: 'old-style-dir/', type: '\0', size: 0 }));
    expect(await members(tar)).toEqual(['link', '../escape', 'old-style-dir/']);
    expect((await readTarLayout(bufferSource(tar))).entries[2]!.type).toBe('5');
    expect((await streamed(tar)).map((e) => e.path)).toEqual(['link', '../escape', 'old-style-dir/']);
  });

  it('reads GNU base-256 sizes and long names', async () => {
    const base256 = new Uint8Array(12);
    base256[0] = 0x80;
    base256[11] = 5;
    const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
    const tar = archive(concat(header({ name: 'big', sizeField: base256 }), padded(enc('12345'))), member({ name: '././@LongLink', type: 'L' }, `${long}\0`), member({ name: long.slice(0, 99) }, 'long'));
    const layout = await readTarLayout(bufferSource(tar));
    expect(layout.entries.map((e) => [e.path, e.size])).toEqual([
      ['big', 5],
      [long, 4],
    ]);
    expect((await streamed(tar)).map((e) => e.content)).toEqual(['12345', 'long']);
  });

  it('refuses a truncated or malformed archive with a TarFormatError (the layout keeps it as trailer bytes)', async () => {
    const whole = archive(member({ name: 'a' }, 'a'.repeat(600)), member({ name: 'b' }, 'b'));
    for (const [cut, why] of [
      [1536 + 100, /ends inside a tar header/],
      [700, /ends inside an entry's content|needs .* bytes past the end/],
      [1200, /needs .* bytes past the end/],
    ] as const) {
      await expect(streamed(whole.subarray(0, cut)), `cut at ${cut}`).rejects.toThrow(TarFormatError);
      await expect(streamed(whole.subarray(0, cut))).rejects.toThrow(why);
      await expect(streamed(whole.subarray(0, cut))).rejects.toThrow(/truncated/);
      const layout = await readTarLayout(bufferSource(whole.subarray(0, cut)));
      expect(layout.entries.length).toBe(cut > 1536 ? 1 : 0);
      expect(layout.trailerOffset).toBe(cut > 1536 ? 1536 : 0);
    }
    const badPax = archive(member({ name: 'x', type: 'x' }, enc('99 path=a\n')), member({ name: 'a' }));
    await expect(streamed(badPax)).rejects.toThrow(/malformed pax record/);
    const dangling = archive(member({ name: 'x', type: 'x' }, paxData([['path', 'p']])));
    await expect(streamed(dangling)).rejects.toThrow(/describes no entry/);
    const after = concat(whole, member({ name: 'hidden-after-the-end' }, 'x'));
    await expect(streamed(after)).rejects.toThrow(/data after the end-of-archive block at byte 3584/);
  });
});
