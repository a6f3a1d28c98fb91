// The app's side of uploads: the `uploads` bridge namespace on the real services, against Azurite.
// Queue a deployment, run the queue as a job (progress in bytes, then its result), list, and the
// schema refusing a bad rate.
import { BlobServiceClient } from '@azure/storage-blob';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo, UploadRow } from '../contract/index.js';
import { openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { buildServices, type Services } from '../main/services.js';
import { startAzurite, type TestAzurite } from './support/azurite.js';
import { makeFleet, type Fleet } from './support/uploads.js';

let azurite: TestAzurite;
let dir: string;
let fleet: Fleet;
let services: Services;

beforeAll(async () => {
  azurite = await startAzurite();
  dir = mkdtempSync(join(tmpdir(), 'lighter-upload-bridge-'));
  fleet = await makeFleet(dir, [{ name: 'north', priority: 3, bundles: [{ name: 'app', size: 1536 * 1024, devices: ['ship-01', 'ship-02'] }] }]);
  // The pipeline way of giving the credential; the app would keep it in its secret store.
  process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString();
  process.env.LIGHTER_UPLOAD_CONTAINER = 'bridge';
  services = await buildServices({ database: fleet.db, shell: 'bridge' });
});
afterAll(async () => {
  await services?.close();
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('uploads on the bridge', () => {
  it('queues a deployment and works the queue as a job', async () => {
    const h = services.handlers;
    const ids = (await h.invoke('uploads.queue', { deploymentId: fleet.deployments[0]!.id })) as number[];
    expect(ids).toHaveLength(2);
    const queued = (await h.invoke('uploads.list', {})) as UploadRow[];
    expect(queued.map((r) => [r.state, r.deployment, r.priority, r.size])).toEqual([
      ['queued', 'north', 3, 1536 * 1024],
      ['queued', 'north', 3, 1536 * 1024],
    ]);
    await h.invoke('uploads.setRate', { bytesPerSecond: 1024 * 1024 });

    const progress: Array<[number, number]> = [];
    const unsubscribe = services.jobs.subscribe((j) => j.kind === 'upload-run' && j.total > 0 && progress.push([j.done, j.total]));
    const job = (await h.invoke('uploads.run', { once: true })) as JobInfo;
    expect(job).toMatchObject({ kind: 'upload-run', state: 'running' });
    // A second runner is refused while the first works.
    await expect(h.invoke('uploads.run', { once: true })).rejects.toThrow(/in use by job/);
    let info = job;
    for (let i = 0; i < 300 && info.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      info = (await h.invoke('jobs.get', { id: job.id })) as JobInfo;
    }
    unsubscribe();
    expect(info.state, info.error ?? '').toBe('succeeded');
    expect(info.result).toMatchObject({ succeeded: ids, failed: [] });
    expect(progress.at(-1)).toEqual([1536 * 1024, 1536 * 1024]);

    const after = (await h.invoke('uploads.list', { state: 'succeeded' })) as UploadRow[];
    expect(after.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(await h.invoke('uploads.progress', {})).toEqual({ running: [], rate: 0, cap: 1024 * 1024 });

    // Later a third device needs the same bundle: nothing is sent again, the blob's metadata names it too.
    const db = await openInventory(fleet.db);
    const inv = new Inventory(db, 'test');
    inv.importDevices([{ id: 'ship-03', displayName: null, vessel: null, site: null, group: 'test', tags: {}, hub: null, localRegistry: null, isEdge: true, connectionState: null, lastSeen: null }], 'file', 'one more');
    const bundle = fleet.bundles.get('app')!;
    const third = inv.createTransfer(bundle.id, 'ship-03', 'upload', bundle.size, fleet.deployments[0]!.id);
    db.close();
    const second = (await h.invoke('uploads.run', { once: true })) as JobInfo;
    for (let i = 0; i < 300 && (info.id !== second.id || info.state === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      info = (await h.invoke('jobs.get', { id: second.id })) as JobInfo;
    }
    expect(info.result).toMatchObject({ succeeded: [third], failed: [] });
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString()).getContainerClient('bridge').getBlockBlobClient(`bundles/${bundle.sha256.slice(7)}.lighter`);
    expect((await blob.getProperties()).metadata).toMatchObject({ devices: 'ship-01,ship-02,ship-03', sha256: bundle.sha256, bundleid: bundle.id });
  });

  it('refuses bad requests with the schema’s reason', async () => {
    await expect(services.handlers.invoke('uploads.setRate', { bytesPerSecond: -1 })).rejects.toThrow(/uploads\.setRate: bytesPerSecond/);
    await expect(services.handlers.invoke('uploads.pause', { id: 999 })).rejects.toThrow(/unknown upload transfer 999/);
  });
});
