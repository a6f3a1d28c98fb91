// Bearer-token scopes against a real docker-registry that enforces them: one client that pulls and
// then pushes, reads the catalog, or is refused a scope by the token server.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, RegistryError, type UploadSource } from '../io/registry/client.js';
import { startRegistry, type TestRegistry } from './support/registry.js';

const PASSWORD = 'scope-secret-7f3a';
const writer = { username: 'writer', password: PASSWORD };
const reader = { username: 'reader', password: PASSWORD };

function blob(text: string): UploadSource {
  const data = Buffer.from(text);
  return { digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, open: (s, e) => Readable.from([data.subarray(s, e + 1)]) };
}

const INDEX = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));

describe('registry: token scopes', () => {
  let acr: TestRegistry & { tokenRequests: string[] };
  beforeAll(async () => {
    acr = await startRegistry({
      tokenUsers: { writer: PASSWORD, reader: PASSWORD },
      // the reader may pull anything and push nothing; the writer may do all it asks
      tokenGrants: (user, _type, _name, action) => user === 'writer' || action === 'pull',
    });
  });
  afterAll(async () => {
    await acr?.stop();
  });

  it('a client that pulls first and pushes next gets a token with push for the push', async () => {
    const client = new RegistryClient(acr.host, 'scope/first-pull', { credentials: writer });
    expect(await client.listTags()).toEqual([]);
    const b = blob('pull, then push');
    expect(await client.hasBlob(b.digest)).toBe(false);
    await client.uploadBlob(b);
    await client.putManifest('1', INDEX, 'application/vnd.oci.image.index.v1+json');
    expect(await client.listTags()).toEqual(['1']);
  });

  it('the catalog: the scope the registry names in its challenge is asked for', async () => {
    // (the catalog lists repositories that hold a blob)
    await new RegistryClient(acr.host, 'scope/listed', { credentials: writer }).uploadBlob(blob('listed'));
    const client = new RegistryClient(acr.host, 'scope/listed', { credentials: writer });
    expect(await client.listRepositories()).toContain('scope/listed');
    expect(acr.tokenRequests.some((r) => r.split(' ').includes('registry:catalog:*'))).toBe(true);
  });

  it('a scope the token server will not grant: a clear error without the password', async () => {
    const client = new RegistryClient(acr.host, 'scope/read-only', { credentials: reader });
    expect(await client.listTags()).toEqual([]);
    const before = acr.tokenRequests.length;
    const err = await client.putManifest('1', INDEX, 'application/vnd.oci.image.index.v1+json').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistryError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/insufficient_scope|not grant/);
    expect(msg).toContain('repository:scope/read-only:pull,push');
    expect(msg).not.toContain(PASSWORD);
    expect(acr.tokenRequests.length - before, 'one token for the push, none again for the same scope').toBe(1);
    // the catalog scope the challenge names is asked for once; refused again, that answer stands
    const atCatalog = acr.tokenRequests.length;
    await expect(client.listRepositories()).rejects.toThrow(/insufficient_scope.*registry:catalog:\*/);
    expect(acr.tokenRequests.slice(atCatalog), 'the pull token it had, then one asking for the catalog too').toEqual(['repository:scope/read-only:pull registry:catalog:*']);
  });
});
