import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleError } from '../../core/bundle/errors.js';
import { encodeHeader } from '../../core/bundle/format.js';
import { bundleIdInput, canonicalJson, type BundleEntry, type Manifest } from '../../core/bundle/manifest.js';
import { sha256 } from '../digest.js';
import { generateKeys, loadSigner, loadVerifier } from '../keys.js';
import { openBundle } from './reader.js';
import { writeBundle, type PartSource } from './writer.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-bundle-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const part = (bytes: Buffer): PartSource & { bytes: Buffer } => ({ bytes, digest: sha256(bytes), length: bytes.length, open: () => Readable.from([bytes]) });
const config = part(Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'));
const patch = part(randomBytes(5000));
const entry = (c = config, p = patch): BundleEntry => ({
  base: null,
  target: { configDigest: c.digest, layers: [{ diffID: sha256('layer'), size: 10240 }], repoTag: 'app:1' },
  config: c.digest,
  patch: p.digest,
});

let keys: Awaited<ReturnType<typeof generateKeys>>;
let other: Awaited<ReturnType<typeof generateKeys>>;
let good: string;
let goodBytes: Buffer;

async function rejection(path: string, key = keys.publicKey): Promise<BundleError> {
  try {
    const b = await openBundle(path, await loadVerifier(key));
    await b.verifyParts();
  } catch (err) {
    if (err instanceof BundleError) return err;
    throw err;
  }
  throw new Error(`${path} was accepted`);
}

function variant(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** A bundle signed with the right key around an arbitrary manifest object. */
async function signedRaw(manifest: unknown, parts: Buffer[]): Promise<Buffer> {
  const header = encodeHeader(new TextEncoder().encode(JSON.stringify(manifest)), await loadSigner(keys.privateKey));
  return Buffer.concat([header, ...parts]);
}

function manifestOf(over: Partial<Manifest> = {}): Manifest {
  const entries = [entry()];
  const parts = [config, patch].map((p) => ({ digest: p.digest, length: p.length }));
  const m: Manifest = { format: 1, id: sha256(bundleIdInput({ entries, parts })), version: 3, created: '2025-01-01T00:00:00.000Z', creator: 'test', signer: keys.keyId, entries, parts, ...over };
  return m;
}

beforeAll(async () => {
  keys = await generateKeys(join(dir, 'keys'));
  other = await generateKeys(join(dir, 'other'));
  good = join(dir, 'good.bundle');
  await writeBundle(good, { version: 3, created: new Date(), creator: 'test', entries: [entry()], parts: [config, patch] }, await loadSigner(keys.privateKey));
  goodBytes = readFileSync(good);
});

describe('bundle reader', () => {
  it('reads back what the writer wrote, parts verified', async () => {
    const b = await openBundle(good, await loadVerifier(keys.publicKey));
    expect(b.manifest.version).toBe(3);
    expect(b.manifest.signer).toBe(keys.keyId);
    await b.verifyParts();
    expect(await b.readPart(config.digest, 1 << 20)).toEqual(config.bytes);
    expect(statSync(keys.privateKey).mode & 0o777).toBe(0o600);
  });

  it('gives the same id to the same content, whoever built it and when', async () => {
    const again = join(dir, 'again.bundle');
    await writeBundle(again, { version: 9, created: new Date(0), creator: 'other', entries: [entry()], parts: [config, patch] }, await loadSigner(keys.privateKey));
    const [a, b] = await Promise.all([good, again].map(async (p) => (await openBundle(p, await loadVerifier(keys.publicKey))).manifest));
    expect(a!.id).toBe(b!.id);
  });

  it('rejects truncation at every region of the file', async () => {
    const offsets = new Set([0, 1, 7, 8, 15, 16, 17, 100, goodBytes.length - 5065, goodBytes.length - 5001, goodBytes.length - 1]);
    for (let i = 0; i < 40; i++) offsets.add(Math.floor(Math.random() * goodBytes.length));
    for (const n of offsets) {
      const err = await rejection(variant(`trunc-${n}`, goodBytes.subarray(0, n)));
      expect(['truncated', 'not-a-bundle', 'bad-signature', 'part-digest'], `cut at ${n}: ${err.message}`).toContain(err.code);
    }
  });

  it('rejects every random bit flip', async () => {
    for (let i = 0; i < 60; i++) {
      const flipped = Buffer.from(goodBytes);
      const at = Math.floor(Math.random() * flipped.length);
      flipped[at]! ^= 1 << Math.floor(Math.random() * 8);
      const err = await rejection(variant(`flip-${i}`, flipped));
      expect(err.code, `flip at ${at}`).toMatch(/^(not-a-bundle|unsupported-format|too-large|truncated|trailing-data|bad-signature|wrong-key|part-digest|unsigned|malformed-manifest)$/);
    }
  });

  it('names the specific reason for each hostile variant', async () => {
    const cases: Array<[string, Uint8Array | Promise<Uint8Array>, string]> = [
      ['trailing', Buffer.concat([goodBytes, Buffer.from('x')]), 'trailing-data'],
      ['magic', Buffer.concat([Buffer.from('PK\x03\x04'), goodBytes.subarray(4)]), 'not-a-bundle'],
      ['unsigned', (() => { const b = Buffer.from(goodBytes); b.writeUInt16BE(0, 14); return b; })(), 'unsigned'],
      ['endless-manifest', (() => { const b = Buffer.from(goodBytes); b.writeUInt32BE(0xffffffff, 10); return b; })(), 'too-large'],
      ['endless-part', signedRaw({ ...manifestOf(), parts: [{ digest: config.digest, length: config.length }, { digest: patch.digest, length: 2 ** 45 }] }, [config.bytes, patch.bytes]), 'bad-id'],
      ['endless-part-id-fixed', signedRaw(((m) => ({ ...m, id: sha256(bundleIdInput(m)) }))({ ...manifestOf(), parts: [{ digest: config.digest, length: config.length }, { digest: patch.digest, length: 2 ** 45 }] }), [config.bytes, patch.bytes]), 'truncated'],
      ['beyond-limit', signedRaw({ ...manifestOf(), parts: [{ digest: config.digest, length: config.length }, { digest: patch.digest, length: 2 ** 60 }] }, [config.bytes, patch.bytes]), 'malformed-manifest'],
      ['path-field', signedRaw({ ...manifestOf(), entries: [{ ...entry(), path: '../../etc/passwd' }] }, [config.bytes, patch.bytes]), 'malformed-manifest'],
      ['dotdot-tag', signedRaw({ ...manifestOf(), entries: [{ ...entry(), target: { ...entry().target, repoTag: '../../etc:passwd' } }] }, [config.bytes, patch.bytes]), 'malformed-manifest'],
      ['absolute-tag', signedRaw({ ...manifestOf(), entries: [{ ...entry(), target: { ...entry().target, repoTag: '/etc/passwd:x' } }] }, [config.bytes, patch.bytes]), 'malformed-manifest'],
      ['not-json', signedRaw(undefined, []).then((b) => b), 'malformed-manifest'],
      ['wrong-id', signedRaw({ ...manifestOf(), id: sha256('other') }, [config.bytes, patch.bytes]), 'bad-id'],
    ];
    for (const [name, bytes, code] of cases) {
      const err = await rejection(variant(name, await bytes));
      expect(err.code, `${name}: ${err.message}`).toBe(code);
    }
    expect((await rejection(good, other.publicKey)).code).toBe('wrong-key');
  });

  it('rejects parts mixed from two bundles', async () => {
    const patch2 = part(randomBytes(5000));
    const second = join(dir, 'second.bundle');
    await writeBundle(second, { version: 4, created: new Date(), creator: 'test', entries: [entry(config, patch2)], parts: [config, patch2] }, await loadSigner(keys.privateKey));
    const secondBytes = readFileSync(second);
    // header of the first, parts of the second (same lengths, so only the digests can tell)
    const headerLen = goodBytes.length - config.length - patch.length;
    const mixed = Buffer.concat([goodBytes.subarray(0, headerLen), secondBytes.subarray(secondBytes.length - config.length - patch2.length)]);
    expect((await rejection(variant('mixed', mixed))).code).toBe('part-digest');
  });

  it('leaves no file behind when writing fails', async () => {
    const bad = { ...patch, open: () => Readable.from([randomBytes(5000)]) };
    const out = join(dir, 'out', 'x.bundle');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'out'));
    await expect(writeBundle(out, { version: 1, created: new Date(), creator: 't', entries: [entry()], parts: [config, bad] }, await loadSigner(keys.privateKey))).rejects.toThrow(/part-digest/);
    expect(readdirSync(join(dir, 'out'))).toEqual([]);
  });

  it('canonical JSON sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 0 } })).toBe('{"a":{"c":0,"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('a read error is a read error naming the file and offset, not tampering', async () => {
    // the file shrinks under the reader (a USB stick pulled): the bytes that are there are intact
    const shrunk = join(dir, 'shrunk.bundle');
    copyFileSync(good, shrunk);
    const b = await openBundle(shrunk, await loadVerifier(keys.publicKey));
    const cut = statSync(shrunk).size - 1000;
    truncateSync(shrunk, cut);
    const err = await b.verifyParts().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).code).toBe('read-error');
    expect((err as BundleError).message).toContain(`${shrunk} at offset ${cut}`);
    // and a file the reader cannot read at all any more (EISDIR in place of the file)
    const gone = join(dir, 'gone.bundle');
    copyFileSync(good, gone);
    const g = await openBundle(gone, await loadVerifier(keys.publicKey));
    rmSync(gone);
    mkdirSync(gone);
    const err2 = await g.verifyParts().catch((e: unknown) => e);
    expect((err2 as BundleError).code).toBe('read-error');
    expect((err2 as BundleError).message).toMatch(new RegExp(`${gone} at offset \\d+: EISDIR`));
    // a flipped byte is still tampering
    const flipped = Buffer.from(goodBytes);
    flipped[flipped.length - 10]! ^= 1;
    expect((await rejection(variant('flipped-part', flipped))).code).toBe('part-digest');
  });
});
