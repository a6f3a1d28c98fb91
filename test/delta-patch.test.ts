// The delta engine on real images built by dockerd: lighter diff / patch round trip with docker
// load accepting the result, and rejection of corrupt, truncated and wrong-base input with
// nothing left behind.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPatch, diffImages, PatchFile } from '../io/delta/patch.js';
import { openDestination, openSource } from '../io/image/transport.js';
import { buildTestImages, type TestImages } from './support/images.js';

let images: TestImages;
let work: string;
const lighter = (...args: string[]) => spawnSync('node', ['bin/lighter.js', ...args], { encoding: 'utf8' });
const docker = (...args: string[]) => spawnSync('docker', args, { encoding: 'utf8' });
const archive = (p: string) => `docker-archive:${p}`;

async function identity(ref: string): Promise<{ config: string; layers: string[] }> {
  const src = await openSource(ref);
  try {
    const info = await src.info();
    return { config: info.configDigest, layers: info.layers.map((l) => l.diffID) };
  } finally {
    await src.close();
  }
}

beforeAll(() => {
  images = buildTestImages();
  work = mkdtempSync(join(tmpdir(), 'lighter-delta-test-'));
});
afterAll(() => work && rmSync(work, { recursive: true, force: true }));

describe('lighter diff / patch', () => {
  it('rebuilds v2 from v1 exactly; docker load accepts it with the same image ID', async () => {
    const patch = join(work, 'v1-v2.patch');
    const d = lighter('diff', '--from', archive(images.appV1.archive), '--to', archive(images.appV2.archive), '-o', patch);
    expect(d.status, d.stderr).toBe(0);
    expect(statSync(patch).size).toBeLessThan(statSync(images.appV2.archive).size / 10);
    const out = join(work, 'rebuilt.tar');
    const p = lighter('patch', '--from', archive(images.appV1.archive), patch, '--to', `${archive(out)}:lighter-test/rebuilt:delta`);
    expect(p.status, p.stderr).toBe(0);
    expect(await identity(archive(out))).toEqual(await identity(archive(images.appV2.archive)));
    const load = docker('load', '-i', out);
    expect(load.status, load.stderr).toBe(0);
    const id = (tag: string) => docker('image', 'inspect', '--format', '{{.Id}}', tag).stdout.trim();
    expect(id('lighter-test/rebuilt:delta')).toBe(id(images.appV2.tag));
    docker('rmi', 'lighter-test/rebuilt:delta');
  });

  it('builds the same bytes twice (deterministic, worker timing aside)', () => {
    const a = join(work, 'a.patch');
    const b = join(work, 'b.patch');
    for (const f of [a, b]) expect(lighter('diff', '--from', archive(images.appV1.archive), '--to', archive(images.appV2.archive), '-o', f).status).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  // A first image codes every layer at brotli 11 (docs/patch-format.md): minutes on a loaded 2-core machine.
  it('carries a first image without a base', { timeout: 300_000 }, () => {
    const patch = join(work, 'first.patch');
    expect(lighter('diff', '--to', archive(images.appV1.archive), '-o', patch).status).toBe(0);
    const out = join(work, 'first.tar');
    const p = lighter('patch', patch, '--to', `${archive(out)}:lighter-test/first:delta`);
    expect(p.status, p.stderr).toBe(0);
    expect(readdirSync(work).some((f) => f.startsWith('.lighter-partial-'))).toBe(false);
  });
});

describe('bad input is rejected before anything becomes visible', () => {
  let patch: string;
  beforeAll(async () => {
    patch = join(work, 'good.patch');
    const [b, t] = await Promise.all([openSource(archive(images.appV1.archive)), openSource(archive(images.appV2.archive))]);
    try {
      await diffImages(b, t, patch);
    } finally {
      await Promise.all([b.close(), t.close()]);
    }
  });

  async function applyTo(patchFile: string, baseArchive: string, out: string): Promise<void> {
    const p = await PatchFile.open(patchFile);
    const base = await openSource(archive(baseArchive));
    try {
      await applyPatch(p, base, await openDestination(`${archive(out)}:lighter-test/bad:x`));
    } finally {
      await base.close();
    }
  }

  it('a flipped byte in a layer section: digest mismatch, no output', async () => {
    const bytes = readFileSync(patch);
    const header = (await PatchFile.open(patch)).header;
    const carried = header.layers.find((l) => l.from === 'patch')!;
    if (carried.from !== 'patch') throw new Error('no carried layer');
    const bad = Buffer.from(bytes);
    const at = bytes.length - 1 - Math.floor(carried.length / 2);
    bad[at] = bad[at]! ^ 0x40;
    const f = join(work, 'flipped.patch');
    writeFileSync(f, bad);
    const out = join(work, 'flipped.tar');
    await expect(applyTo(f, images.appV1.archive, out)).rejects.toThrow(/digest mismatch for patch layer/);
    expect(existsSync(out)).toBe(false);
  });

  it('a flipped byte in the header, or a truncated patch: rejected on open', async () => {
    const bytes = readFileSync(patch);
    const f = join(work, 'header-flip.patch');
    const bad = Buffer.from(bytes);
    bad[20] = bad[20]! ^ 1;
    writeFileSync(f, bad);
    await expect(PatchFile.open(f)).rejects.toThrow(/header/);
    for (const cut of [10, 100, bytes.length - 1]) {
      writeFileSync(f, bytes.subarray(0, cut));
      await expect(PatchFile.open(f)).rejects.toThrow(/truncated|not a Lighter patch/);
    }
    writeFileSync(f, Buffer.from('not a patch at all, just text'));
    await expect(PatchFile.open(f)).rejects.toThrow(/bad magic/);
  });

  it('the target config comes from the base config and its delta; another base config is refused by name', async () => {
    const p = await PatchFile.open(patch);
    expect(p.header.target.configDelta).toBeDefined();
    const src = await openSource(archive(images.appV1.archive));
    const info = await src.info().finally(() => src.close());
    const t = await openSource(archive(images.appV2.archive));
    const want = (await t.info().finally(() => t.close())).configBytes;
    expect(Buffer.from(p.targetConfig(info)).equals(Buffer.from(want))).toBe(true);
    expect(() => p.targetConfig({ configDigest: `sha256:${'0'.repeat(64)}`, configBytes: info.configBytes })).toThrow(/wrong base image: the patch's target config is coded against base config sha256:[0-9a-f]{64}, not sha256:0{64}/);
    expect(() => p.targetConfig()).toThrow(/and none was given/);
    expect(() => p.targetConfig({ configDigest: info.configDigest, configBytes: new TextEncoder().encode('{}') })).toThrow(/the base config does not match its digest/);
  });

  it('an unchanged base layer whose bytes do not match its diffID: refused as it is copied, no output', async () => {
    const header = (await PatchFile.open(patch)).header;
    const copied = header.layers.find((l) => l.from === 'base');
    if (copied?.from !== 'base') throw new Error('no layer copied from the base');
    const src = await openSource(archive(images.appV1.archive));
    const info = await src.info();
    const at = info.layers.findIndex((l) => l.diffID === header.base.diffIDs[copied.index]);
    const file = await src.layerFile!(at);
    await src.close();
    const bad = Buffer.from(readFileSync(images.appV1.archive));
    bad[file!.offset + Math.floor(file!.size / 2)]! ^= 0x10;
    const badBase = join(work, 'bad-layer-base.tar');
    writeFileSync(badBase, bad);
    const out = join(work, 'bad-layer.tar');
    await expect(applyTo(patch, badBase, out)).rejects.toThrow(new RegExp(`digest mismatch for base layer ${at} \\(${copied.diffID}\\)`));
    expect(existsSync(out)).toBe(false);
    // the CLI (dist/) copies such a layer on its copier thread: refused at the commit, the same way
    const r = lighter('patch', '--from', archive(badBase), patch, '--to', archive(out));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`digest mismatch for base layer ${at} \\(${copied.diffID}\\)`));
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).filter((n) => n.includes('bad-layer.tar') && n !== 'bad-layer-base.tar')).toEqual([]);
  });

  it('the wrong base: rejected naming the missing layer, no output', async () => {
    const out = join(work, 'wrong-base.tar');
    await expect(applyTo(patch, images.appV2.archive.replace('app-v2', 'base'), out)).rejects.toThrow(/wrong base image .* lacks \d+ of the \d+ layers/);
    expect(existsSync(out)).toBe(false);
    const r = lighter('patch', '--from', archive(images.base.archive), patch, '--to', archive(out));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/wrong base image/);
  });
});
