// Acceptance of issue 2, bad input: each case gives its own specific error and leaves nothing
// partial at the destination; an interrupted registry upload resumes instead of restarting.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DigestMismatchError } from '../io/digest.js';
import { openRegistryDestination } from '../io/image/registry.js';
import { copyImage } from '../io/image/copy.js';
import { openDestination, openSource } from '../io/image/transport.js';
import { buildTestImages, type TestImages } from './support/images.js';
import { startCuttingProxy, startFailingProxy, startRegistry, type TestRegistry } from './support/registry.js';

let images: TestImages;
let registry: TestRegistry;
let work: string;

beforeAll(async () => {
  images = buildTestImages();
  registry = await startRegistry();
  work = mkdtempSync(join(tmpdir(), 'lighter-badinput-'));
});

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Copies SRC to an OCI layout and returns the error; the layout must not exist afterwards. */
async function copyFails(src: string): Promise<Error> {
  const out = join(work, `out-${Math.random().toString(36).slice(2)}`);
  let error: Error | undefined;
  try {
    const s = await openSource(src);
    try {
      await copyImage(s, await openDestination(`oci:${out}:x`));
    } finally {
      await s.close();
    }
  } catch (err) {
    error = err as Error;
  }
  expect(existsSync(out), 'nothing is left at the destination').toBe(false);
  expect(readdirSync(work).filter((n) => n.startsWith('.lighter-partial-')), 'no temp files are left').toEqual([]);
  if (!error) throw new Error(`copy of ${src} succeeded`);
  return error;
}

/** Unpacks the fixture archive, lets `edit` change the tree, and packs it again. */
function editedArchive(name: string, edit: (dir: string) => void, tarArgs: string[] = []): string {
  const dir = join(work, `${name}-tree`);
  mkdirSync(dir);
  execFileSync('tar', ['-C', dir, '-xf', images.appV1.archive]);
  edit(dir);
  const out = join(work, `${name}.tar`);
  execFileSync('tar', ['-C', dir, '-cf', out, ...tarArgs, ...readdirSync(dir)]);
  return out;
}

function manifestOf(dir: string): Array<{ Config: string; Layers: string[] }> {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
}

describe('bad archives', () => {
  it('a truncated archive', async () => {
    const p = join(work, 'truncated.tar');
    copyFileSync(images.appV1.archive, p);
    truncateSync(p, Math.floor(readFileSync(p).length * 0.6));
    const err = await copyFails(`docker-archive:${p}`);
    expect(err.message).toMatch(/archive is truncated/);
  });

  it('a layer whose digest does not match', async () => {
    const p = editedArchive('tampered', (dir) => {
      const layer = join(dir, manifestOf(dir)[0]!.Layers[1]!);
      const b = readFileSync(layer);
      b[b.length - 2000]! ^= 0xff; // inside the last file's data
      writeFileSync(layer, b);
    });
    const err = await copyFails(`docker-archive:${p}`);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(err.message).toMatch(/digest mismatch for layer .*sha256:/);
  });

  it('a config whose digest does not match its name', async () => {
    const p = editedArchive('badconfig', (dir) => {
      const cfg = join(dir, manifestOf(dir)[0]!.Config);
      writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('"os":"linux"', '"os":"linux" '));
    });
    const err = await copyFails(`docker-archive:${p}`);
    expect(err.message).toMatch(/digest mismatch for config/);
  });

  it('a missing manifest.json', async () => {
    const p = editedArchive('nomanifest', (dir) => rmSync(join(dir, 'manifest.json')));
    const err = await copyFails(`docker-archive:${p}`);
    expect(err.message).toMatch(/manifest\.json is missing \(not a docker save archive\)/);
  });

  it('a layer referenced by manifest.json but missing', async () => {
    const p = editedArchive('nolayer', (dir) => rmSync(join(dir, manifestOf(dir)[0]!.Layers[2]!)));
    const err = await copyFails(`docker-archive:${p}`);
    expect(err.message).toMatch(/layer 2 .* is missing from the archive/);
  });

  it('path traversal in an entry name', async () => {
    const p = editedArchive('traversal', (dir) => writeFileSync(join(dir, 'evil'), 'x'), ['--transform', 's,^evil$,../../evil,', '-P']);
    const err = await copyFails(`docker-archive:${p}`);
    expect(err.message).toMatch(/escapes the archive \(path traversal\)/);
  });

  it('a symlink that escapes the archive', async () => {
    const p = editedArchive('symlink', (dir) => {
      const m = manifestOf(dir);
      rmSync(join(dir, m[0]!.Layers[0]!));
      symlinkSync('../../../etc/passwd', join(dir, m[0]!.Layers[0]!));
    });
    const err = await copyFails(`docker-archive:${p}`);
    expect(err.message).toMatch(/symlink .* points outside the archive/);
  });

  it('a corrupt blob in an OCI layout', async () => {
    const layout = join(work, 'corrupt-layout');
    const s = await openSource(`docker-archive:${images.appV1.archive}`);
    await copyImage(s, await openDestination(`oci:${layout}:v1`));
    const info = await s.info();
    await s.close();
    const src = await openSource(`oci:${layout}:v1`);
    const layer = (await src.info()).layers[1]!.descriptor.digest;
    const blob = join(layout, 'blobs/sha256', layer.slice(7));
    const b = readFileSync(blob);
    b[100]! ^= 0xff;
    writeFileSync(blob, b);
    const err = await copyFails(`oci:${layout}:v1`);
    expect(err.message).toMatch(new RegExp(`digest mismatch for .*blob ${layer}`));
    expect(info.layers).toHaveLength(3);
  });
});

describe('registry failures', () => {
  async function pushFails(host: string, opts: Parameters<typeof openDestination>[1] = {}): Promise<Error> {
    const s = await openSource(`docker-archive:${images.appV1.archive}`);
    try {
      await copyImage(s, await openDestination(`docker://${host}/bad/app:1`, opts));
    } catch (err) {
      return err as Error;
    } finally {
      await s.close();
    }
    throw new Error('push succeeded');
  }

  it('401: a registry that wants credentials', async () => {
    // the OpenBSD bcrypt test vector: password "U*U"
    const authed = await startRegistry({ htpasswd: 'lighter:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n' });
    try {
      expect((await pushFails(authed.host)).message).toMatch(/answered 401: it requires credentials/);
      expect((await pushFails(authed.host, { credentials: { username: 'lighter', password: 'wrong' } })).message).toMatch(/answered 401 .*authentication required or credentials rejected/);
      const s = await openSource(`docker-archive:${images.appV1.archive}`);
      await copyImage(s, await openDestination(`docker://${authed.host}/ok/app:1`, { credentials: { username: 'lighter', password: 'U*U' } }));
      const back = await openSource(`docker://${authed.host}/ok/app:1`, { credentials: { username: 'lighter', password: 'U*U' } });
      expect((await back.info()).configDigest).toBe((await s.info()).configDigest);
      await s.close();
    } finally {
      await authed.stop();
    }
  });

  it('401 then a bearer token: the challenge → token endpoint flow ACR uses', async () => {
    const acr = await startRegistry({ tokenUsers: { lighter: 'token-pass' } });
    try {
      expect((await pushFails(acr.host)).message).toMatch(/token endpoint 127\.0\.0\.1:\d+ answered 401 \(credentials rejected\)/);
      const creds = { credentials: { username: 'lighter', password: 'token-pass' } };
      const s = await openSource(`docker-archive:${images.appV1.archive}`);
      await copyImage(s, await openDestination(`docker://${acr.host}/team/app:1`, creds));
      expect(acr.tokenRequests).toContain('repository:team/app:pull,push');
      const back = await openSource(`docker://${acr.host}/team/app:1`, creds);
      expect((await back.info()).configDigest).toBe((await s.info()).configDigest);
      await s.close();
      // and anonymous pulls are refused by the registry itself
      const anon = await openSource(`docker://${acr.host}/team/app:1`);
      await expect(anon.info()).rejects.toThrow(/answered 401/);
    } finally {
      await acr.stop();
    }
  });

  it('plain HTTP only on loopback, or with --insecure', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    expect(external, 'this machine has a non-loopback address').toBeDefined();
    const proxy = await startFailingProxy(registry.host, () => undefined, external);
    try {
      const refused = await openSource(`docker://${proxy.host}/nothing/here:1`);
      await expect(refused.info()).rejects.toThrow(/cannot reach registry .* over HTTPS: .*needs --insecure/s);
      const insecure = await openSource(`docker://${proxy.host}/nothing/here:1`, { insecure: true });
      await expect(insecure.info()).rejects.toThrow(/answered 404 for manifest/);
    } finally {
      await proxy.stop();
    }
  });

  it('404: an image that is not there', async () => {
    const s = await openSource(`docker://${registry.host}/nothing/here:1`);
    await expect(s.info()).rejects.toThrow(/answered 404 for manifest .*nothing\/here:1: MANIFEST_UNKNOWN/);
  });

  it('500: a registry failing on blob uploads', async () => {
    const proxy = await startFailingProxy(registry.host, (method, path) => (method === 'PATCH' && path.includes('/blobs/uploads/') ? 500 : undefined));
    try {
      const err = await pushFails(proxy.host);
      expect(err.message).toMatch(/answered 500 for upload of sha256:[0-9a-f]{64} .*injected 500/);
      const tags = await fetch(`http://${registry.host}/v2/bad/app/tags/list`);
      expect(tags.status, 'no tag appears').toBe(404);
    } finally {
      await proxy.stop();
    }
  });

  /** Pushes a 2 MiB blob in 256 KiB chunks through `proxy`; returns the client's resume counts. */
  async function pushBlobThrough(proxyHost: string, repo: string) {
    const dst = await openRegistryDestination({ host: proxyHost, repository: repo, tag: '1' }, { chunkSize: 256 << 10 });
    const data = Buffer.alloc(2 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const d = { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length };
    await dst.putBlob(d, Readable.from([data]));
    const res = await fetch(`http://${registry.host}/v2/${repo}/blobs/${d.digest}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(data), 'the registry has the whole blob').toBe(true);
    return { stats: dst.client.stats, size: data.length };
  }

  it('a connection dropped mid-upload resumes where it stopped', async () => {
    // the link fails twice, each time as the next chunk starts: the registry has stored every
    // byte it acknowledged, the client asks it where the upload stands and carries on from there
    const proxy = await startCuttingProxy(registry.host, 700 << 10, { times: 2, atRequest: 'PATCH ' });
    try {
      const { stats, size } = await pushBlobThrough(proxy.host, 'resume/app');
      expect(proxy.cuts).toBe(2);
      expect(stats).toEqual({ resumed: 2, restarted: 0 });
      expect(proxy.uploaded, 'no chunk was sent twice').toBeLessThan(size + (64 << 10));
    } finally {
      await proxy.stop();
    }
  });

  it('a connection dropped inside a chunk: the upload completes even when the registry discards it', async () => {
    // docker-registry 2.8 cancels an upload whose stored size no longer matches its upload state
    // (a chunk that arrived in part), so the only way on is a fresh upload; it must still succeed
    const proxy = await startCuttingProxy(registry.host, 700 << 10, { times: 1 });
    try {
      const { stats } = await pushBlobThrough(proxy.host, 'restart/app');
      expect(proxy.cuts).toBe(1);
      expect(stats.resumed + stats.restarted).toBe(1);
    } finally {
      await proxy.stop();
    }
  });
});
