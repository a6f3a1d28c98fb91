// Acceptance of issue 4 (hostile input): a corpus of damaged and malicious bundles, generated here
// from real ones, applied to a docker-archive destination. Every one is refused with its specific
// error code; nothing appears outside the state dir (no image, no partial file, no escaped path);
// the recorded version is unchanged; and the process survives to apply a good bundle afterwards.
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError, type BundleErrorCode } from '../core/bundle/errors.js';
import { encodeHeader } from '../core/bundle/format.js';
import { bundleIdInput, encodeManifest, type Manifest } from '../core/bundle/manifest.js';
import { applyBundle } from '../io/bundle/apply.js';
import { buildBundle } from '../io/bundle/build.js';
import { diffImages } from '../io/delta/patch.js';
import { sha256 } from '../io/digest.js';
import { openSource } from '../io/image/transport.js';
import { generateKeys, loadSigner, loadVerifier } from '../io/keys.js';
import { bundleWithoutScan, decompressionBombs, ESCAPES, hostileArchive, partsOf } from './support/hostile-bundles.js';
import { buildTestImages, type TestImages } from './support/images.js';

let images: TestImages;
let dir: string;
let keys: { privateKey: string; publicKey: string };
let otherKeys: { privateKey: string; publicKey: string };
let good: Buffer;
let goodManifest: Manifest;
const from = () => `docker-archive:${images.appV1.archive}`;

async function signer() {
  return loadSigner(keys.privateKey);
}

/** Builds a delta bundle appV1 -> appV2 with the given version (and expiry). */
async function build(out: string, version: number, expires?: Date): Promise<Manifest> {
  const r = await buildBundle({ to: `docker-archive:${images.appV2.archive}`, from: [from()], fromSignatures: [], signer: await signer(), out, version, creator: 'test', ...(expires ? { expires } : {}) });
  return r.manifest;
}

/** Re-signs a bundle around a changed manifest (a trusted signer that made something hostile). */
async function resign(m: Manifest, parts: Buffer[], fixId = true): Promise<Buffer> {
  const manifest = fixId ? { ...m, id: sha256(bundleIdInput(m)) } : m;
  return Buffer.concat([encodeHeader(encodeManifest(manifest), await signer()), ...parts]);
}

/**
 * Applies `bytes` as a bundle in a fresh sandbox (state dir + destination dir) after `prepare`,
 * expects the given rejection, and checks nothing was written outside the state dir.
 */
async function expectRejected(name: string, bytes: Uint8Array, codes: BundleErrorCode[], opts: { key?: string; from?: string | null; prepare?: (state: string) => Promise<void> } = {}): Promise<void> {
  const sandbox = join(dir, 'sandbox', name);
  const state = join(sandbox, 'state');
  const out = join(sandbox, 'out');
  mkdirSync(out, { recursive: true });
  const file = join(sandbox, 'in.bundle');
  writeFileSync(file, bytes);
  await opts.prepare?.(state);
  const before = existsSync(join(state, 'applied.json')) ? readFileSync(join(state, 'applied.json'), 'utf8') : null;
  let err: unknown = null;
  try {
    await applyBundle({ bundle: file, verifier: await loadVerifier(opts.key ?? keys.publicKey), from: opts.from === undefined ? from() : opts.from, to: `docker-archive:${join(out, 'dest.tar')}`, stateDir: state });
  } catch (e) {
    err = e;
  }
  expect(err, `${name} was accepted`).toBeInstanceOf(BundleError);
  expect(codes, `${name}: ${(err as Error).message}`).toContain((err as BundleError).code);
  expect(readdirSync(out), `${name} left something in the destination dir`).toEqual([]);
  expect(readdirSync(sandbox).sort(), `${name} wrote outside the state dir`).toEqual(['in.bundle', 'out', ...(existsSync(state) ? ['state'] : [])].sort());
  const after = existsSync(join(state, 'applied.json')) ? readFileSync(join(state, 'applied.json'), 'utf8') : null;
  expect(after, `${name} changed the recorded version`).toBe(before);
}

beforeAll(async () => {
  images = buildTestImages();
  dir = mkdtempSync(join(tmpdir(), 'lighter-bundle-hostile-'));
  keys = await generateKeys(join(dir, 'keys'));
  otherKeys = await generateKeys(join(dir, 'other-keys'));
  goodManifest = await build(join(dir, 'good.bundle'), 100);
  good = readFileSync(join(dir, 'good.bundle'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('hostile bundles are refused, specifically, leaving nothing behind', () => {
  it('truncation at many offsets', async () => {
    const header = good.length - goodManifest.parts.reduce((n, p) => n + p.length, 0);
    const offsets = new Set([0, 1, 8, 12, 16, 17, header - 65, header - 1, header, header + 1, good.length - 1]);
    while (offsets.size < 30) offsets.add(randomInt(good.length));
    for (const n of offsets) await expectRejected(`trunc-${n}`, good.subarray(0, n), ['truncated', 'not-a-bundle']);
  });

  it('random bit flips', async () => {
    for (let i = 0; i < 30; i++) {
      const flipped = Buffer.from(good);
      const at = i < 10 ? randomInt(200) : randomInt(flipped.length); // the header is small: aim at it too
      flipped[at]! ^= 1 << randomInt(8);
      await expectRejected(`flip-${i}-${at}`, flipped, ['not-a-bundle', 'unsupported-format', 'too-large', 'truncated', 'trailing-data', 'unsigned', 'bad-signature', 'wrong-key', 'part-digest', 'malformed-manifest']);
    }
  });

  it('wrong key, no signature, trailing bytes', async () => {
    await expectRejected('wrong-key', good, ['wrong-key'], { key: otherKeys.publicKey });
    const unsigned = Buffer.from(good);
    unsigned.writeUInt16BE(0, 14);
    await expectRejected('unsigned', unsigned, ['unsigned']);
    const stripped = Buffer.concat([good.subarray(0, 16), good.subarray(16, 16 + good.readUInt32BE(10))]); // manifest, signature cut off
    stripped.writeUInt16BE(0, 14);
    await expectRejected('stripped', stripped, ['unsigned']);
    await expectRejected('trailing', Buffer.concat([good, Buffer.alloc(1)]), ['trailing-data']);
  });

  it('a replayed older version, and the same version with other content', async () => {
    const older = await build(join(dir, 'older.bundle'), 50);
    expect(older.id).toBe(goodManifest.id); // content-addressed: same pair, same id
    const applied = async (state: string) => {
      await applyBundle({ bundle: join(dir, 'good.bundle'), verifier: await loadVerifier(keys.publicKey), from: from(), to: `docker-archive:${join(dir, 'applied-elsewhere.tar')}`, stateDir: state });
    };
    await expectRejected('replay-older', readFileSync(join(dir, 'older.bundle')), ['replay'], { prepare: applied });
    const sameVersionOther = await resign({ ...goodManifest, creator: 'someone else', entries: goodManifest.entries.map((e) => ({ ...e, target: { ...e.target, repoTag: 'other/app:9' } })) }, partsOf(good, goodManifest));
    await expectRejected('replay-same-version', sameVersionOther, ['replay'], { prepare: applied });
  });

  it('expired', async () => {
    const created = new Date(Date.now() - 3600_000).toISOString();
    const expires = new Date(Date.now() - 1000).toISOString();
    await expectRejected('expired', await resign({ ...goodManifest, created, expires }, partsOf(good, goodManifest)), ['expired']);
    // shore refuses to make one that is dead on arrival
    await expect(build(join(dir, 'expired.bundle'), 200, new Date(Date.now() - 1000))).rejects.toThrow(/expir/);
  });

  it('parts mixed from two bundles', async () => {
    const base = await buildBundle({ to: `docker-archive:${images.appV2.archive}`, from: [`docker-archive:${images.base.archive}`], fromSignatures: [], signer: await signer(), out: join(dir, 'other.bundle'), version: 100, creator: 'test' });
    const other = readFileSync(join(dir, 'other.bundle'));
    const headerLen = good.length - goodManifest.parts.reduce((n, p) => n + p.length, 0);
    const mixed = Buffer.concat([good.subarray(0, headerLen), ...partsOf(other, base.manifest)]);
    await expectRejected('mixed', mixed, ['part-digest', 'truncated', 'trailing-data']);
    // same lengths, other bytes: only the digests can tell
    const [config, patch] = partsOf(good, goodManifest);
    const otherPatch = partsOf(other, base.manifest)[1]!;
    const spliced = Buffer.concat([good.subarray(0, headerLen), config!, Buffer.concat([otherPatch, Buffer.alloc(patch!.length)]).subarray(0, patch!.length)]);
    await expectRejected('mixed-same-length', spliced, ['part-digest']);
  });

  it('declared lengths far beyond the real data', async () => {
    const endless = Buffer.from(good);
    endless.writeUInt32BE(0xffffffff, 10);
    await expectRejected('endless-manifest', endless, ['too-large']);
    const parts = partsOf(good, goodManifest);
    const huge = { ...goodManifest, parts: goodManifest.parts.map((p, i) => (i === 1 ? { ...p, length: 2 ** 45 } : p)) };
    await expectRejected('endless-part', await resign(huge, parts), ['truncated']);
    await expectRejected('beyond-limit-part', await resign({ ...goodManifest, parts: goodManifest.parts.map((p, i) => (i === 1 ? { ...p, length: 2 ** 53 } : p)) }, parts), ['malformed-manifest']);
    await expectRejected('endless-layer', await resign({ ...goodManifest, entries: goodManifest.entries.map((e) => ({ ...e, target: { ...e.target, layers: e.target.layers.map((l) => ({ ...l, size: 2 ** 50 })) } })) }, parts), ['malformed-manifest']);
  });

  it('decompression bombs: a patch that expands beyond what it declares', async () => {
    const bombs = await decompressionBombs(good, goodManifest, await signer());
    // 1. a rebuilt layer declared as 1 KiB that really is megabytes: the output is cut at the cap
    await expectRejected('bomb-layer', bombs.layer, ['decompression-bomb']);
    // 2. a patch header of a few KiB of brotli expanding to 256 MiB (the engine caps headers at 16 MiB)
    await expectRejected('bomb-header', bombs.header, ['decompression-bomb', 'malformed-manifest']);
  });

  it('entries with .., absolute paths, symlink and hardlink escapes', async () => {
    for (const [name, entries] of ESCAPES) {
      const archive = join(dir, `${name}.tar`);
      await hostileArchive(archive, entries);
      const bytes = await bundleWithoutScan(archive, 300, await signer());
      await expectRejected(`escape-${name}`, bytes, ['unsafe-entry'], { from: null });
      // and shore refuses to build one in the first place
      await expect(buildBundle({ to: `docker-archive:${archive}`, from: [], fromSignatures: [], signer: await signer(), out: join(dir, `${name}.refused`), version: 1, creator: 't', repoTag: 'evil/app:1' })).rejects.toThrow(/unsafe-entry/);
      expect(existsSync(join(dir, `${name}.refused`))).toBe(false);
    }
  });

  it('a prebuilt patch (bundle build --patch) seals to the bundle a build makes; one for another base is refused', async () => {
    const patch = join(dir, 'v1-v2.patch');
    const [b, t] = await Promise.all([openSource(from()), openSource(`docker-archive:${images.appV2.archive}`)]);
    try {
      await diffImages(b, t, patch);
    } finally {
      await Promise.all([b.close(), t.close()]);
    }
    const opts = { to: `docker-archive:${images.appV2.archive}`, from: [from()], fromSignatures: [], signer: await signer(), version: 400, creator: 'test' };
    const fresh = await buildBundle({ ...opts, out: join(dir, 'fresh.bundle') });
    const sealed = await buildBundle({ ...opts, patch, out: join(dir, 'sealed.bundle') });
    expect(sealed.manifest.id).toBe(fresh.manifest.id);
    expect(sealed.bytes).toBe(fresh.bytes);
    expect(sealed.estimate).toBe(fresh.estimate);
    expect(sealed.estimate).toBeGreaterThan(0);
    // the same patch offered against another base: its layers are not that base's
    await expect(buildBundle({ ...opts, from: [`docker-archive:${images.base.archive}`], patch, out: join(dir, 'wrong-base.bundle') })).rejects.toThrow(/lacks layer|does not rebuild/);
    expect(existsSync(join(dir, 'wrong-base.bundle'))).toBe(false);
    await expect(buildBundle({ ...opts, from: [from(), `docker-archive:${images.base.archive}`], patch, out: join(dir, 'two-bases.bundle') })).rejects.toThrow(/at most one --from/);
  });

  it('after all that, a good bundle still applies', async () => {
    const state = join(dir, 'final-state');
    const r = await applyBundle({ bundle: join(dir, 'good.bundle'), verifier: await loadVerifier(keys.publicKey), from: from(), to: `docker-archive:${join(dir, 'final.tar')}`, stateDir: state });
    expect(r.manifest.version).toBe(100);
    const s = await openSource(`docker-archive:${join(dir, 'final.tar')}`);
    try {
      expect((await s.info()).configDigest).toBe(goodManifest.entries[0]!.target.configDigest);
    } finally {
      await s.close();
    }
  });
});
