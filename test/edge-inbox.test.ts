// Acceptance of issue 11 (the inbox): a bundle copied in slowly, in pieces, over a minute is not
// touched until it is complete, then applied; a truncated one is quarantined as such, never
// applied; the hostile corpus (truncations, bit flips, wrong key, no signature, trailing bytes,
// replay, expiry, a bad id, lengths beyond the data, layer entries escaping with .., absolute paths,
// symlinks and hardlinks, decompression bombs) is quarantined with each file's specific
// reason, reported as a failure, and leaves the registry and the apply state as they were.
import { randomInt } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePreamble, encodeHeader, headerLength, PREAMBLE_BYTES } from '../core/bundle/format.js';
import { encodeManifest, parseManifest, type Manifest } from '../core/bundle/manifest.js';
import { generateKeys, loadSigner } from '../io/keys.js';
import { bundleWithoutScan, decompressionBombs, ESCAPES, hostileArchive } from './support/hostile-bundles.js';
import { archiveView, makeDevice, makeShore, outbox, quarantined, receipts, resignBundle, seedStore, skopeoView, startModule, waitFor, type Device, type Shore } from './support/edge.js';

const REPO = 'lighter-edge-inbox/app';
let shore: Shore;
let device: Device;
let good: Buffer;
let goodPath: string;

beforeAll(async () => {
  shore = await makeShore();
  device = await makeDevice('inbox');
  await seedStore(device, shore.images.appV1.archive, `${REPO}:v1`);
  goodPath = await shore.bundle(join(shore.dir, 'good.bundle'), { version: 10, tag: `${REPO}:v2` });
  good = readFileSync(goodPath);
});

afterAll(async () => {
  await device?.stop();
  shore?.stop();
});

async function catalog(): Promise<string> {
  const repos = ((await (await fetch(`http://${device.registry.host}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;
  const tags = await Promise.all(repos.map(async (r) => `${r}:${((await (await fetch(`http://${device.registry.host}/v2/${r}/tags/list`)).json()) as { tags: string[] | null }).tags?.sort().join(',')}`));
  return tags.sort().join(' ');
}

describe('the inbox', () => {
  it('leaves a bundle copied slowly over a minute alone until it is complete; quarantines a truncated one', { timeout: 180_000 }, async () => {
    const m = startModule(device, shore, ['--no-hub', '--settle-ms', '1000', '--stale-ms', '20000']);
    try {
      // a truncated bundle of a later version: incomplete, so it waits (20 s), then is refused
      const truncated = join(device.inbox, 'cut.bundle');
      writeFileSync(truncated, good.subarray(0, Math.floor(good.length * 0.6)));
      const slow = join(device.inbox, 'slow.bundle');
      const pieces = 12;
      const step = Math.ceil(good.length / pieces);
      const t0 = Date.now();
      for (let i = 0; i < pieces; i++) {
        appendFileSync(slow, good.subarray(i * step, (i + 1) * step));
        if (i === pieces - 1) break;
        await new Promise((r) => setTimeout(r, 5500)); // longer than --settle-ms: the copy pauses, the file looks still
        expect(existsSync(slow), `piece ${i}`).toBe(true);
        expect(skopeoView(device.registry.host, `${REPO}:v2`), `piece ${i}`).toBeNull();
        expect((await receipts(device)).filter((r) => r.file.name === 'slow.bundle'), `piece ${i}`).toEqual([]);
        expect(quarantined(device).map((q) => q.name), `piece ${i}`).not.toContain('slow.bundle');
      }
      expect(Date.now() - t0).toBeGreaterThan(60_000);
      await waitFor('the slow bundle applied', () => !existsSync(slow), 60_000);
      expect(skopeoView(device.registry.host, `${REPO}:v2`)).toEqual(archiveView(shore.images.appV2.archive));
      await waitFor('the truncated bundle quarantined', () => quarantined(device).find((q) => q.name === 'cut.bundle'), 60_000);
      expect(quarantined(device).find((q) => q.name === 'cut.bundle')?.reason).toBe('truncated');
      expect((await receipts(device)).find((r) => r.file.name === 'cut.bundle')).toMatchObject({ result: 'failed', reason: 'truncated' });
      expect(outbox(device).map((o) => [o.result.file, o.result.result, o.result.reason ?? null]).sort()).toEqual([
        ['cut.bundle', 'failed', 'truncated'],
        ['slow.bundle', 'applied', null],
      ]);
    } finally {
      await m.stop();
    }
  });

  it('quarantines every hostile bundle with its specific reason, reports it, and changes nothing', { timeout: 240_000 }, async () => {
    const other = await generateKeys(join(shore.dir, 'hostile-other'));
    const preamble = decodePreamble(good);
    const header = headerLength(preamble);
    const manifest = parseManifest(good.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + preamble.manifestLength));
    const parts = good.subarray(header);
    const resignRaw = async (m: Manifest) => Buffer.concat([encodeHeader(encodeManifest(m), await loadSigner(shore.keys.privateKey)), parts]);
    const corpus = new Map<string, { bytes: Buffer; reasons: string[] }>();
    for (const n of [0, 1, 12, 17, header - 1, header, header + 1, good.length - 1]) corpus.set(`trunc-${n}`, { bytes: good.subarray(0, n), reasons: ['truncated'] });
    for (let i = 0; i < 8; i++) {
      const flipped = Buffer.from(good);
      const at = i < 4 ? randomInt(200) : randomInt(flipped.length);
      flipped[at]! ^= 1 << randomInt(8);
      corpus.set(`flip-${i}-${at}`, { bytes: flipped, reasons: ['not-a-bundle', 'unsupported-format', 'too-large', 'truncated', 'trailing-data', 'unsigned', 'bad-signature', 'wrong-key', 'part-digest', 'malformed-manifest'] });
    }
    const unsigned = Buffer.from(good);
    unsigned.writeUInt16BE(0, 14);
    corpus.set('unsigned', { bytes: unsigned, reasons: ['unsigned'] });
    corpus.set('trailing', { bytes: Buffer.concat([good, Buffer.alloc(1)]), reasons: ['trailing-data'] });
    corpus.set('not-a-bundle', { bytes: Buffer.from('PK\x03\x04 a zip file, say'), reasons: ['not-a-bundle'] });
    const wrongKey = await shore.bundle(join(shore.dir, 'h-wrong-key.bundle'), { version: 40, tag: `${REPO}:wk`, key: other.privateKey });
    corpus.set('wrong-key', { bytes: readFileSync(wrongKey), reasons: ['wrong-key'] });
    corpus.set('replay', { bytes: readFileSync(await resignBundle(shore, goodPath, join(shore.dir, 'h-replay.bundle'), (m) => ({ ...m, version: 3 }))), reasons: ['replay'] });
    const past = { created: new Date(Date.now() - 7200_000).toISOString(), expires: new Date(Date.now() - 3600_000).toISOString() };
    corpus.set('expired', { bytes: readFileSync(await resignBundle(shore, goodPath, join(shore.dir, 'h-expired.bundle'), (m) => ({ ...m, version: 41, ...past }))), reasons: ['expired'] });
    corpus.set('bad-id', { bytes: await resignRaw({ ...manifest, version: 42, id: `sha256:${'0'.repeat(64)}` }), reasons: ['bad-id'] });
    corpus.set('endless-part', { bytes: readFileSync(await resignBundle(shore, goodPath, join(shore.dir, 'h-endless.bundle'), (m) => ({ ...m, version: 43, parts: m.parts.map((p, i) => (i === 1 ? { ...p, length: 2 ** 45 } : p)) }))), reasons: ['truncated'] });
    // What a trusted signer could still sign (the build command's own scan bypassed): the apply refuses.
    const signer = await loadSigner(shore.keys.privateKey);
    for (const [i, [name, entries]] of ESCAPES.entries()) {
      const archive = join(shore.dir, `h-escape-${name}.tar`);
      await hostileArchive(archive, entries);
      corpus.set(`escape-${name}`, { bytes: await bundleWithoutScan(archive, 50 + i, signer), reasons: ['unsafe-entry'] });
    }
    const bombs = await decompressionBombs(good, manifest, signer, 60);
    corpus.set('bomb-layer', { bytes: bombs.layer, reasons: ['decompression-bomb'] });
    corpus.set('bomb-header', { bytes: bombs.header, reasons: ['decompression-bomb', 'malformed-manifest'] });

    const applied = () => (existsSync(join(device.state, 'applied.json')) ? readFileSync(join(device.state, 'applied.json'), 'utf8') : null);
    const before = { catalog: await catalog(), applied: applied() };
    const reportedBefore = outbox(device).length;
    const m = startModule(device, shore, ['--no-hub', '--settle-ms', '200', '--stale-ms', '1500']);
    try {
      for (const [name, c] of corpus) writeFileSync(join(device.inbox, `${name}.bundle`), c.bytes);
      await waitFor('every hostile bundle quarantined', () => readdirSync(device.inbox).filter((n) => n.endsWith('.bundle')).length === 0, 180_000);
    } finally {
      await m.stop();
    }
    const q = new Map(quarantined(device).map((x) => [x.name, x.reason]));
    const all = await receipts(device);
    const reported = outbox(device).slice(reportedBefore).map((o) => o.result);
    for (const [name, c] of corpus) {
      expect(c.reasons, `${name}: quarantined as ${q.get(`${name}.bundle`)}`).toContain(q.get(`${name}.bundle`));
      expect(all.find((r) => r.file.name === `${name}.bundle`), name).toMatchObject({ result: 'failed', reason: q.get(`${name}.bundle`) });
      expect(reported.filter((r) => r.file === `${name}.bundle`), name).toHaveLength(1);
    }
    expect(reported.every((r) => r.result === 'failed')).toBe(true);
    expect(await catalog()).toBe(before.catalog);
    expect(applied()).toBe(before.applied);
  });
});
