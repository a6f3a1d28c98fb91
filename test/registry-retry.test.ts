// Issue 10, fault 1: a registry session that outlives its bearer token, and registries that ask
// the client to slow down (429/503 with Retry-After). Against a real docker-registry.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, type UploadSource } from '../io/registry/client.js';
import { startFailingProxy, startRegistry, type TestRegistry } from './support/registry.js';

const TTL = 3;
const creds = { username: 'lighter', password: 'token-pass' };

/** 2 MiB of varied bytes whose chunks trickle out over ~0.6 s each, as on a slow link. */
function slowSource(): UploadSource & { data: Buffer } {
  const data = Buffer.alloc(2 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  return {
    data,
    digest: `sha256:${createHash('sha256').update(data).digest('hex')}`,
    size: data.length,
    open(start, end) {
      const part = data.subarray(start, end + 1);
      return Readable.from(
        (async function* () {
          for (let o = 0; o < part.length; o += 64 << 10) {
            await new Promise((r) => setTimeout(r, 150));
            yield part.subarray(o, o + (64 << 10));
          }
        })(),
      );
    },
  };
}

describe('registry: tokens and Retry-After', () => {
  let acr: TestRegistry & { tokenRequests: string[] };
  beforeAll(async () => {
    acr = await startRegistry({ tokenUsers: { lighter: 'token-pass' }, tokenTtl: TTL });
  });
  afterAll(async () => {
    await acr?.stop();
  });

  it('an upload that outlives its bearer token renews the token and completes', async () => {
    const client = new RegistryClient(acr.host, 'token/app', { credentials: creds, chunkSize: 256 << 10 });
    const src = slowSource();
    const started = Date.now();
    expect(await client.hasBlob(src.digest)).toBe(false);
    await client.uploadBlob(src);
    const seconds = (Date.now() - started) / 1000;
    expect(seconds, 'the upload took longer than one token lives').toBeGreaterThan(TTL + 1);
    expect(acr.tokenRequests.length, 'the token was renewed').toBeGreaterThan(1);
    expect(client.stats, 'no chunk was resent or restarted').toEqual({ resumed: 0, restarted: 0 });
    const back = Buffer.concat(await (await client.getBlob(src.digest)).toArray());
    expect(back.equals(src.data), 'the registry has the whole blob').toBe(true);
  });

  it('429 and 503 with Retry-After: the client waits as told, then succeeds', async () => {
    const answered: number[] = [];
    let refusals = 0;
    const seen: number[] = [];
    const proxy = await startFailingProxy(acr.host, (method, path) => {
      if (!path.includes('/manifests/')) return undefined;
      seen.push(Date.now());
      if (refusals >= 2) return undefined;
      answered.push(Date.now());
      // one answer in seconds, one as an HTTP-date (whole seconds, so up to 2 s ahead)
      return refusals++ === 0
        ? { status: 429, headers: { 'retry-after': '1' } }
        : { status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } };
    });
    try {
      const client = new RegistryClient(proxy.host, 'token/app', { credentials: creds });
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
      await client.putManifest('1', manifest, 'application/vnd.oci.image.index.v1+json');
      // (a fourth request is the token renewal's retry when the waits outlast the 3 s token)
      expect(seen.length).toBeGreaterThanOrEqual(3);
      expect(seen[1]! - answered[0]!, 'waited the Retry-After seconds').toBeGreaterThanOrEqual(1000);
      expect(seen[2]! - answered[1]!, 'waited until the Retry-After date').toBeGreaterThanOrEqual(1000);
      const got = await client.getManifest('1');
      expect(got.bytes.equals(manifest)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });
});
