import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useAzurite } from '../../test/support/azurite.js';
import { bundleBlobName } from './block-upload.js';
import { deviceIndexBlobName, encodeDeviceIndex, fetchDeviceBundles, parseDeviceIndex, type DeviceIndexEntry } from './device-index.js';
import { containerClient, parseStorageCredential } from './storage.js';

const azurite = useAzurite();
const dir = mkdtempSync(join(tmpdir(), 'lighter-fetch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('device index', () => {
  it('brings the bundles the index names into the inbox, in order, once', async () => {
    const container = containerClient(parseStorageCredential(azurite.connectionString(), 'fetch'));
    await container.createIfNotExists();
    const blobs = [randomBytes(300_000), randomBytes(1000)];
    const entries: DeviceIndexEntry[] = blobs.map((b, i) => ({ blob: bundleBlobName(sha(b)), bundleId: `id-${i}`, sha256: sha(b), size: b.length, version: i + 1, deployment: 'north' }));
    for (const [i, b] of blobs.entries()) await container.getBlockBlobClient(entries[i]!.blob).uploadData(b);
    const index = encodeDeviceIndex('ship-01', entries);
    await container.getBlockBlobClient(deviceIndexBlobName('ship-01')).upload(index, index.length);

    const inbox = join(dir, 'inbox');
    mkdirSync(inbox);
    const opts = { container, deviceId: 'ship-01', inbox, stateFile: join(dir, 'fetched.json') };
    expect(await fetchDeviceBundles(opts)).toEqual({ fetched: entries.map((e) => e.sha256), known: 2 });
    for (const e of entries) expect(sha(readFileSync(join(inbox, `${e.sha256.slice(7)}.bundle`)))).toBe(e.sha256);
    // The module applies and removes them; they are not fetched again.
    for (const f of readdirSync(inbox)) rmSync(join(inbox, f));
    expect(await fetchDeviceBundles(opts)).toEqual({ fetched: [], known: 2 });
    expect(readdirSync(inbox)).toEqual([]);
    // A device with nothing uploaded yet has nothing to fetch.
    expect(await fetchDeviceBundles({ ...opts, deviceId: 'ship-99' })).toEqual({ fetched: [], known: 0 });
  });

  it('refuses a blob that is not what the index says, leaving nothing in the inbox', async () => {
    const container = containerClient(parseStorageCredential(azurite.connectionString(), 'tampered'));
    await container.createIfNotExists();
    const claimed = randomBytes(5000);
    const entry: DeviceIndexEntry = { blob: bundleBlobName(sha(claimed)), bundleId: 'x', sha256: sha(claimed), size: claimed.length, version: 1, deployment: null };
    const other = Buffer.from(claimed);
    other[100] = other[100]! ^ 1;
    await container.getBlockBlobClient(entry.blob).uploadData(other);
    const index = encodeDeviceIndex('ship-02', [entry]);
    await container.getBlockBlobClient(deviceIndexBlobName('ship-02')).upload(index, index.length);
    const inbox = join(dir, 'inbox-2');
    mkdirSync(inbox);
    await expect(fetchDeviceBundles({ container, deviceId: 'ship-02', inbox, stateFile: join(dir, 'f2.json') })).rejects.toThrow(/digest mismatch/);
    expect(readdirSync(inbox)).toEqual([]);
  });

  it('checks the index itself', () => {
    const ok = { blob: bundleBlobName(`sha256:${'a'.repeat(64)}`), bundleId: 'x', sha256: `sha256:${'a'.repeat(64)}`, size: 10, version: 1, deployment: null };
    const doc = (bundles: unknown[], device = 'ship-01') => JSON.stringify({ format: 1, device, bundles });
    expect(parseDeviceIndex(doc([ok]), 'ship-01', 100)).toEqual([ok]);
    expect(() => parseDeviceIndex(doc([ok], 'ship-02'), 'ship-01', 100)).toThrow(/for "ship-02", not this device/);
    expect(() => parseDeviceIndex(doc([{ ...ok, blob: '../../etc/passwd' }]), 'ship-01', 100)).toThrow(/is not bundles\/<sha256>\.lighter/);
    expect(() => parseDeviceIndex(doc([{ ...ok, sha256: `sha256:${'b'.repeat(64)}` }]), 'ship-01', 100)).toThrow(/is not the blob's name/);
    expect(() => parseDeviceIndex(doc([{ ...ok, size: 101 }]), 'ship-01', 100)).toThrow(/size 101 is not 1\.\.100/);
    expect(() => parseDeviceIndex('{', 'ship-01', 100)).toThrow(/not JSON/);
  });
});
