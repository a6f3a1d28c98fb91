// Acceptance of issue 4 (destinations): bundles built and applied with the CLI give an image that
// skopeo (or docker, for the engine) reads with the target's config digest and diffIDs, in a local
// registry, in the Docker engine and in an archive; a first-image bundle is smaller than the gzip
// layers a registry would send; bases known only by signature work; the best base is chosen.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSource } from '../io/image/transport.js';
import { independentView } from './support/independent-view.js';
import { buildTestImages, type TestImages } from './support/images.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

const CLI = join(import.meta.dirname, '..', 'bin', 'lighter.js');
const DAEMON_TAG = 'lighter-bundle-test/app:2';

let images: TestImages;
let registry: TestRegistry;
let dir: string;
let target: { configDigest: string; diffIDs: string[] };
let key: string;
let pub: string;

function lighter(...args: string[]): string {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`lighter ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  images = buildTestImages();
  registry = await startRegistry();
  dir = mkdtempSync(join(tmpdir(), 'lighter-bundle-apply-'));
  lighter('keys', 'generate', '-o', join(dir, 'keys'));
  key = join(dir, 'keys', 'lighter-bundle.key');
  pub = join(dir, 'keys', 'lighter-bundle.pub');
  target = independentView(`docker-archive:${images.appV2.archive}`);
});

afterAll(async () => {
  await registry?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  spawnSync('docker', ['rmi', '-f', DAEMON_TAG], { stdio: 'ignore' });
});

describe('bundle build and apply', () => {
  const from = () => `docker-archive:${images.appV1.archive}`;

  it('builds a delta bundle and applies it to a registry, the Docker engine and an archive', () => {
    const bundle = join(dir, 'v1-v2.bundle');
    const out = lighter('bundle', 'build', '--to', `docker-archive:${images.appV2.archive}`, '--from', `docker-archive:${images.base.archive}`, '--from', from(), '--key', key, '-o', bundle, '--version', '10');
    expect(out).toContain(`base    ${from()}`); // appV1 shares more with appV2 than the bare base
    expect(lighter('bundle', 'verify', bundle, '--pubkey', pub, '--from', from())).toMatch(/verified/);
    // a delta is far smaller than the target's changed layers
    const v2Size = statSync(images.appV2.archive).size;
    expect(statSync(bundle).size).toBeLessThan(v2Size / 4);

    const state = join(dir, 'state');
    const dests = [`docker://${registry.host}/fleet/app:2`, `docker-daemon:${DAEMON_TAG}`, `docker-archive:${join(dir, 'out.tar')}`];
    for (const to of dests) {
      // the same bundle again (same version and id) is allowed: it is how a killed apply finishes
      expect(lighter('bundle', 'apply', bundle, '--from', from(), '--to', to, '--pubkey', pub, '--state', state)).toContain('applied bundle');
      expect(independentView(to), to).toEqual(target);
    }
    expect(JSON.parse(readFileSync(join(state, 'applied.json'), 'utf8'))).toMatchObject({ version: 10 });
    expect(existsSync(join(state, 'work'))).toBe(true);
  });

  // Most of this test is CPU: the first-image build and the brotli-11 reference below (55 s and 57 s
  // of 116 s on a 2-core machine at load 17; the apply 3 s), so it gets room beyond the default.
  it('ships a first image smaller than the gzip layers a registry would send', { timeout: 300_000 }, async () => {
    // The 0.7x-of-gzip target is measured on the corpus of real images (docs/bundle-format.md);
    // these fixtures are half pseudo-random bytes, which no compressor shrinks. Here: below gzip,
    // and as small as brotli at its best on each layer.
    const bundle = join(dir, 'full.bundle');
    const out = lighter('bundle', 'build', '--to', `docker-archive:${images.appV2.archive}`, '--key', key, '-o', bundle, '--version', '20');
    expect(out).toContain('none (full image)');
    const src = await openSource(`docker-archive:${images.appV2.archive}`);
    let gzipBytes = 0;
    let brotliBytes = 0;
    try {
      const info = await src.info();
      for (let i = 0; i < info.layers.length; i++) {
        const chunks: Buffer[] = [];
        for await (const c of await src.openLayerTar(i)) chunks.push(c as Buffer);
        const layer = Buffer.concat(chunks);
        gzipBytes += gzipSync(layer).length;
        brotliBytes += brotliCompressSync(layer, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_LGWIN]: 24 } }).length;
      }
    } finally {
      await src.close();
    }
    const size = statSync(bundle).size;
    expect(size / gzipBytes).toBeLessThan(0.9);
    expect(size / brotliBytes).toBeLessThan(1.05);
    const to = `docker-archive:${join(dir, 'full-out.tar')}`;
    lighter('bundle', 'apply', bundle, '--to', to, '--pubkey', pub, '--state', join(dir, 'state-full'));
    expect(independentView(to)).toEqual(target);
  });

  it('builds against a base known only by its signature, reusing its layers by diffID', () => {
    const sig = join(dir, 'v1.sig.json');
    lighter('signature', from(), '-o', sig);
    const signature = JSON.parse(readFileSync(sig, 'utf8')) as { layers: Array<{ diffID: string; files: unknown[] }> };
    expect(signature.layers.map((l) => l.diffID)).toEqual(independentView(from()).diffIDs);
    const bundle = join(dir, 'by-signature.bundle');
    const out = lighter('bundle', 'build', '--to', `docker-archive:${images.appV2.archive}`, '--from-signature', sig, '--key', key, '-o', bundle, '--version', '30');
    expect(out).toContain(`base    ${sig}`);
    const to = `docker-archive:${join(dir, 'sig-out.tar')}`;
    lighter('bundle', 'apply', bundle, '--from', from(), '--to', to, '--pubkey', pub, '--state', join(dir, 'state-sig'));
    expect(independentView(to)).toEqual(target);
  });

  it('inspect shows the manifest without verifying it', () => {
    const out = lighter('bundle', 'inspect', join(dir, 'v1-v2.bundle'), '--json');
    const m = JSON.parse(out) as { version: number; entries: Array<{ target: { configDigest: string } }> };
    expect(m.version).toBe(10);
    expect(m.entries[0]!.target.configDigest).toBe(target.configDigest);
  });
});
