// One tar reader (core/tar/reader.ts) behind its three users: the delta engine's layout (and the
// byte-for-byte rebuild it exists for), the docker-archive index (io/image/tar-index.ts) and the
// layer safety scan (io/bundle/layer-scan.ts). Fed the same archives, made by real `git archive`
// and GNU tar with pax global headers, they must see the same entries; hostile archives are
// refused by the scan and the index alike.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BundleError } from '../core/bundle/errors.js';
import { buildPatch } from '../core/delta/build.js';
import { bufferSource } from '../core/delta/bytes.js';
import { memoryEnv } from '../core/delta/testing.js';
import { normalisePath } from '../core/tar/path.js';
import { readTarLayout } from '../core/tar/reader.js';
import { archive, concat, header, member, padded, paxData } from '../core/tar/testing.js';
import { scanLayer } from '../io/bundle/layer-scan.js';
import { TarIndex } from '../io/image/tar-index.js';

const work = mkdtempSync(join(tmpdir(), 'lighter-tar-readers-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const hash = () => {
  const h = createHash('sha256');
  return { update: (b: Uint8Array) => void h.update(b), digest: () => `sha256:${h.digest('hex')}` };
};

const LONG = `${'deep-directory-name-'.repeat(4)}/${'long-file-name-'.repeat(6)}.txt`;

/** A small tree: a long path, a non-ASCII name, a symlink, a file that changes with `version`. */
function tree(root: string, version: number): string {
  mkdirSync(join(root, LONG, '..'), { recursive: true });
  mkdirSync(join(root, 'docs'), { recursive: true });
  writeFileSync(join(root, LONG), `long v${version}\n`);
  writeFileSync(join(root, 'docs', 'über-straße.md'), 'ümlaut\n'.repeat(50));
  writeFileSync(join(root, 'app.js'), Array.from({ length: 3000 }, (_, i) => `line ${i} ${i % 50 === 0 ? version : 0}\n`).join(''));
  symlinkSync('app.js', join(root, 'current'));
  for (const f of [LONG, 'docs/über-straße.md', 'app.js']) utimesSync(join(root, f), 1_700_000_000 + version, 1_700_000_000 + version);
  return root;
}

/** `git archive` of a one-commit repository: a pax global header carrying the commit id comes first. */
function gitArchive(name: string, version: number): { file: string; commit: string } {
  const root = tree(join(work, name), version);
  const git = (...args: string[]) => execFileSync('git', ['-C', root, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', `v${version}`);
  const file = join(work, `${name}.tar`);
  git('archive', '--format=tar', '-o', file, 'HEAD');
  return { file, commit: git('rev-parse', 'HEAD').trim() };
}

/** GNU tar, pax format, with a global header of its own attributes (and `extra` pax options). */
function gnuTar(name: string, version: number, options: string, format = 'pax'): string {
  const root = tree(join(work, name), version);
  const file = join(work, `${name}.tar`);
  execFileSync('tar', ['-C', root, `--format=${format}`, ...(options ? [`--pax-option=${options}`] : []), '--sort=name', '-cf', file, '.']);
  return file;
}

interface Seen {
  path: string;
  size: number;
  hash?: string;
}

/** What each user sees: normalised names, sizes, and the content hash of regular files. */
async function layoutView(file: string): Promise<Seen[]> {
  const bytes = readFileSync(file);
  const files = (await readTarLayout(bufferSource(bytes))).entries.filter((e) => !e.global);
  return files.map((e) => {
    const regular = e.type === '0' || e.type === '7';
    return { path: normalisePath(e.path), size: regular ? e.size : 0, ...(regular ? { hash: sha(bytes.subarray(e.dataOffset, e.dataOffset + e.size)) } : {}) };
  });
}

async function indexView(file: string, like: Seen[]): Promise<Seen[]> {
  const index = await TarIndex.open(file, 'test archive');
  expect(index.names().sort()).toEqual([...new Set(like.map((s) => s.path).filter((p) => p !== ''))].sort());
  const out: Seen[] = [];
  for (const s of like) {
    if (s.hash === undefined) {
      out.push({ path: s.path, size: 0 });
      continue;
    }
    const e = index.file(s.path);
    out.push({ path: s.path, size: e.size, hash: sha(await index.read(e, 1 << 20, s.path)) });
  }
  return out;
}

async function expectAgreement(file: string): Promise<Seen[]> {
  const layout = await layoutView(file);
  const { files } = await scanLayer(createReadStream(file));
  expect(files).toEqual(layout);
  expect(await indexView(file, layout)).toEqual(layout);
  expect(layout.map((s) => s.path)).not.toContain('pax_global_header');
  return layout;
}

async function roundTrip(base: string, target: string): Promise<void> {
  const [b, t] = [readFileSync(base), readFileSync(target)];
  const { env, rebuild } = memoryEnv(hash);
  const patch = await buildPatch(
    { configDigest: sha(Uint8Array.of(1)), diffIDs: [sha(b)], layers: [bufferSource(b)] },
    { configDigest: sha(Uint8Array.of(2)), configBytes: Uint8Array.of(2), repoTags: [], diffIDs: [sha(t)], layers: [bufferSource(t)] },
    env,
  );
  expect(sha(await rebuild(patch, 0, [bufferSource(b)]))).toBe(sha(t));
}

const scanError = (bytes: Uint8Array) => scanLayer(createReadStream(writeTar(bytes))).then(() => undefined, (e: unknown) => e as Error);
const indexError = (bytes: Uint8Array) => TarIndex.open(writeTar(bytes), 'test archive').then(() => undefined, (e: unknown) => e as Error);
let made = 0;
function writeTar(bytes: Uint8Array): string {
  const file = join(work, `made-${made++}.tar`);
  writeFileSync(file, bytes);
  return file;
}

describe('the three users of the one tar reader', () => {
  it('agree on a git archive layer (pax global header with the commit id), which rebuilds byte for byte', async () => {
    const v1 = gitArchive('git-v1', 1);
    const v2 = gitArchive('git-v2', 2);
    const seen = await expectAgreement(v2.file);
    expect(seen.map((s) => s.path)).toEqual(expect.arrayContaining([LONG, 'docs/über-straße.md', 'current', 'app.js']));
    const g = (await readTarLayout(bufferSource(readFileSync(v2.file)))).entries[0]!;
    expect([g.type, g.global?.get('comment')]).toEqual(['g', v2.commit]);
    await roundTrip(v1.file, v2.file);
  });

  it('agree on GNU tar pax archives with global mtime and comment records (and UTF-8 pax names)', async () => {
    const options = 'globexthdr.name=%d/GlobalHead.%n,mtime=1000000000,comment=built by ci';
    const v1 = gnuTar('gnu-global-v1', 1, options);
    const v2 = gnuTar('gnu-global-v2', 2, options);
    expect(readFileSync(v2).includes('path=./docs/über-straße.md')).toBe(true); // GNU tar puts the UTF-8 name in a pax record
    const seen = await expectAgreement(v2);
    expect(seen.find((s) => s.path === 'docs/über-straße.md')).toMatchObject({ size: 'ümlaut\n'.length * 50 + 50 });
    await roundTrip(v1, v2);
  });

  it('agree on GNU long names and base-256 sizes', async () => {
    await expectAgreement(gnuTar('gnu-long', 1, '', 'gnu'));
    const base256 = new Uint8Array(12);
    base256[0] = 0x80;
    base256[11] = 5;
    const file = writeTar(archive(concat(header({ name: 'big.bin', sizeField: base256 }), padded(new TextEncoder().encode('12345'))), member({ name: 'after' }, 'x')));
    expect((await expectAgreement(file)).map((s) => [s.path, s.size])).toEqual([
      ['big.bin', 5],
      ['after', 1],
    ]);
  });

  it('judge a pax global header that renames every entry to an escaping path as an escape', async () => {
    // GNU tar applies a global path to every entry after it (`tar tvf` lists "../../evil"); with
    // whole-second times and no atime/ctime there is no per-entry x record to merge it into.
    const root = join(work, 'evil-src');
    mkdirSync(root);
    writeFileSync(join(root, 'a.txt'), 'x');
    utimesSync(join(root, 'a.txt'), 1_700_000_000, 1_700_000_000);
    const file = join(work, 'evil.tar');
    execFileSync('tar', ['-C', root, '--format=pax', '--pax-option=delete=atime,delete=ctime,path=../../evil', '-cf', file, 'a.txt']);
    expect(execFileSync('tar', ['-tf', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })).toContain('../../evil');
    const bytes = readFileSync(file);
    const err = await scanError(bytes);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).code).toBe('unsafe-entry');
    expect(err!.message).toMatch(/pax global path "\.\.\/\.\.\/evil" climbs out/);
    expect((await indexError(bytes))?.message).toMatch(/escapes the archive \(path traversal\)/);
    // a global name that stays inside is refused too: Docker ignores it, GNU tar applies it
    const renames = archive(member({ name: 'pax_global_header', type: 'g' }, paxData([['path', 'inside']])), member({ name: 'a' }, 'x'));
    expect((await scanError(renames))?.message).toMatch(/global header sets path="inside" .* unpackers disagree/);
  });

  it('see the header a symlink size field would hide, and refuse what it names', async () => {
    const hidden = member({ name: '../../etc/cron.d/x' }, 'evil');
    const bytes = archive(header({ name: 'innocent', type: '2', linkname: 'target', size: hidden.length }), hidden);
    expect((await scanError(bytes))?.message).toMatch(/entry "\.\.\/\.\.\/etc\/cron\.d\/x" climbs out/);
    expect((await indexError(bytes))?.message).toMatch(/escapes the archive \(path traversal\)/);
  });

  it('report a truncated layer as truncated, not as a crash or a bad layer', async () => {
    const whole = readFileSync(gnuTar('gnu-cut', 1, 'globexthdr.name=g,comment=c'));
    const cut = whole.subarray(0, 512 * 9 + 100);
    expect((await scanError(cut))?.message).toMatch(/archive is truncated/);
    expect((await indexError(cut))?.message).toMatch(/test archive: archive is truncated/);
    const layout = await readTarLayout(bufferSource(cut));
    expect(layout.trailerOffset).toBeLessThanOrEqual(cut.length);
  });
});
