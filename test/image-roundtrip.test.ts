// Acceptance of issue 2: round trips through every pair of transports keep the config digest and
// every diffID, checked with independent tools (skopeo, docker) on real images built by dockerd.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyImage } from '../io/image/copy.js';
import { openDestination, openSource } from '../io/image/transport.js';
import type { ImageInfo } from '../io/image/types.js';
import { independentView } from './support/independent-view.js';
import { buildOciFormArchive, buildTestImages, type TestImages } from './support/images.js';
import { startFailingProxy, startRegistry, type TestRegistry } from './support/registry.js';

let images: TestImages;
let registry: TestRegistry;
let work: string;
let expected: { configDigest: string; diffIDs: string[] };

function identity(info: ImageInfo) {
  return { configDigest: info.configDigest, diffIDs: info.layers.map((l) => l.diffID) };
}

async function lighterCopy(src: string, dst: string, opts: { archiveLayout?: 'legacy' | 'oci' } = {}): Promise<void> {
  const s = await openSource(src);
  try {
    await copyImage(s, await openDestination(dst, opts));
  } finally {
    await s.close();
  }
}

async function lighterInspect(ref: string) {
  const s = await openSource(ref);
  try {
    return identity(await s.info());
  } finally {
    await s.close();
  }
}

beforeAll(async () => {
  images = buildTestImages();
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'lighter-roundtrip-'));
  const s = await openSource(`docker-archive:${images.appV1.archive}`);
  expected = identity(await s.info());
  await s.close();
});

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
  const names = ['from-archive', 'from-daemon', 'from-archiveform', 'from-oci', 'from-registry', 'from-archive-ociform'];
  for (const t of names.map((n) => `lighter-rt/${n}:1`)) {
    try {
      execFileSync('docker', ['rmi', '-f', t], { stdio: 'ignore' });
    } catch {
      /* not created */
    }
  }
});

describe('round trips between transports', () => {
  it('the fixture is what docker built', () => {
    expect(expected.diffIDs).toHaveLength(3);
    expect(independentView(`docker-daemon:${images.appV1.tag}`)).toEqual(expected);
  });

  // Each source is copied to every other transport; every result is checked by skopeo or docker.
  const destinations = (tag: string) => ({
    'docker-archive': `docker-archive:${join(work, `${tag}.tar`)}:lighter-rt/${tag}:1`,
    'docker-archive (OCI form)': `docker-archive:${join(work, `${tag}-ociform.tar`)}:lighter-rt/${tag}-ociform:1`,
    oci: `oci:${join(work, `${tag}-layout`)}:v1`,
    'docker-daemon': `docker-daemon:lighter-rt/${tag}:1`,
    docker: `docker://${registry.host}/rt/${tag}:1`,
  });
  const sources: Array<[string, () => string]> = [
    ['docker-archive', () => `docker-archive:${images.appV1.archive}`],
    ['docker-daemon', () => `docker-daemon:${images.appV1.tag}`],
    ['docker-archive (OCI form, Docker 25)', () => `docker-archive:${buildOciFormArchive(images.appV1)}`],
  ];
  for (const [label, src] of sources) {
    it(`from ${label} to every transport`, async () => {
      const name = `from-${label.split(' ')[0]!.replace('docker-', '')}${label.includes('OCI') ? 'form' : ''}`;
      for (const [kind, dst] of Object.entries(destinations(name))) {
        await lighterCopy(src(), dst, kind.includes('OCI form') ? { archiveLayout: 'oci' } : {});
        expect(independentView(dst), `${label} → ${kind}`).toEqual(expected);
        expect(await lighterInspect(dst), `lighter reads ${kind}`).toEqual(expected);
      }
    });
  }

  it('from oci and docker:// (written by Lighter) back to archive and engine', async () => {
    const layout = `oci:${join(work, 'from-archive-layout')}:v1`;
    const pushed = `docker://${registry.host}/rt/from-archive:1`;
    for (const [src, name] of [
      [layout, 'from-oci'],
      [pushed, 'from-registry'],
    ] as const) {
      const archive = join(work, `${name}-back.tar`);
      await lighterCopy(src, `docker-archive:${archive}:lighter-rt/${name}:1`);
      expect(independentView(`docker-archive:${archive}`)).toEqual(expected);
      execFileSync('docker', ['load', '-q', '-i', archive]);
      expect(independentView(`docker-daemon:lighter-rt/${name}:1`)).toEqual(expected);
      await lighterCopy(src, `docker-daemon:lighter-rt/${name}:1`);
      await lighterCopy(src, `oci:${join(work, `${name}-relayout`)}:x`);
      expect(independentView(`oci:${join(work, `${name}-relayout`)}:x`)).toEqual(expected);
      const repushed = `docker://${registry.host}/rt/${name}-repush:1`;
      await lighterCopy(src, repushed);
      expect(independentView(repushed)).toEqual(expected);
    }
  });

  it('Lighter reads what skopeo wrote, and skopeo copies what Lighter wrote', async () => {
    const viaSkopeo = {
      oci: `oci:${join(work, 'skopeo-layout')}:s1`,
      docker: `docker://${registry.host}/skopeo/app:s1`,
      'docker-archive': `docker-archive:${join(work, 'skopeo.tar')}:skopeo/app:s1`,
    };
    for (const [kind, ref] of Object.entries(viaSkopeo)) {
      execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `docker-archive:${images.appV1.archive}`, ref]);
      // skopeo converts the config when it changes the manifest format (docker → OCI), so the
      // reference point is what skopeo itself reads back; the layers never change.
      const skopeoView = independentView(ref);
      expect(skopeoView.diffIDs).toEqual(expected.diffIDs);
      expect(await lighterInspect(ref), `lighter reads skopeo's ${kind}`).toEqual(skopeoView);
      const out = `oci:${join(work, `relay-${kind}`)}:r`;
      await lighterCopy(ref, out);
      expect(independentView(out)).toEqual(skopeoView);
    }
    // skopeo copy from Lighter's registry push and OCI layout to its own archive
    const back = join(work, 'skopeo-back.tar');
    execFileSync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${registry.host}/rt/from-archive:1`, `docker-archive:${back}:back/app:1`]);
    expect(independentView(`docker-archive:${back}`)).toEqual(expected);
    execFileSync('skopeo', ['copy', '-q', `oci:${join(work, 'from-archive-layout')}:v1`, `oci:${join(work, 'skopeo-relayout')}:v1`]);
    expect(independentView(`oci:${join(work, 'skopeo-relayout')}:v1`)).toEqual(expected);
  });

  it('docker load accepts the OCI-form archive Lighter writes', () => {
    execFileSync('docker', ['load', '-q', '-i', join(work, 'from-archive-ociform.tar')]);
    expect(independentView('docker-daemon:lighter-rt/from-archive-ociform:1')).toEqual(expected);
  });

  it('a registry-to-registry copy mounts blobs instead of sending them again', async () => {
    // through a proxy that fails every blob upload: only mounts can make this copy succeed
    const proxy = await startFailingProxy(registry.host, (method, path) => (method === 'PATCH' || (method === 'POST' && !path.includes('mount=')) ? 500 : undefined));
    try {
      await lighterCopy(`docker-archive:${images.appV1.archive}`, `docker://${registry.host}/rt/mount-src:1`);
      const src = await openSource(`docker://${registry.host}/rt/mount-src:1`);
      const dst = await openDestination(`docker://${proxy.host}/rt/mounted:1`, { mountFrom: ['rt/mount-src'] });
      await copyImage(src, dst);
      expect(independentView(`docker://${registry.host}/rt/mounted:1`)).toEqual(expected);
      expect(proxy.uploaded, 'only the manifest crossed').toBeLessThan(4096);
    } finally {
      await proxy.stop();
    }
  });
});
