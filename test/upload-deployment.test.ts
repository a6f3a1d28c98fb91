// From `deployment build` to the storage account, on real images: the bundles the build verified
// and stored are queued with `lighter upload queue`, uploaded with `lighter upload run`, once per
// bundle however many devices need it, and each device's index names what it needs.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, ContainerSASPermissions } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeys } from '../io/keys.js';
import { BundleStore } from '../main/deployments/bundle-store.js';
import { DeploymentService } from '../main/deployments/service.js';
import { openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { startAzurite, type TestAzurite } from './support/azurite.js';
import { seedFleet, type Fleet } from './support/fleet.js';
import { lighter } from './support/uploads.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-upload-deployment-'));
let azurite: TestAzurite;
let fleet: Fleet;
let deploymentId: number;
let bundles: Array<{ sha256: string; size: number; devices: string[] }>;

beforeAll(async () => {
  azurite = await startAzurite();
  fleet = await seedFleet(join(dir, 'data'), 'upl');
  const db = await openInventory(fleet.dbFile);
  try {
    const service = new DeploymentService(new Inventory(db, 'ana'), await BundleStore.open(join(fleet.dataDir, 'bundles')), { creator: 'ana@lighter' });
    deploymentId = service.create({ manifestJson: fleet.manifest, name: 'app-v2-upload', group: 'upl-north', orderedBy: { name: 'Ana Lima', email: 'ana@fleet.example' }, priority: 2 });
    const report = await service.build(deploymentId, (await generateKeys(join(dir, 'keys'))).privateKey);
    bundles = report.bundles.map((b) => ({ sha256: b.sha256, size: b.size, devices: b.devices }));
  } finally {
    db.close();
  }
}, 300_000);
afterAll(async () => {
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('upload after deployment build', () => {
  it('uploads each built bundle once and writes every device’s index', async () => {
    const env = { LIGHTER_DATA_DIR: fleet.dataDir, AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString(), LIGHTER_UPLOAD_CONTAINER: 'fleet' };
    const q = await lighter(['upload', 'queue', '--deployment', String(deploymentId), '--json'], env);
    expect(q.code, q.stderr).toBe(0);
    expect((JSON.parse(q.stdout) as { queued: number[] }).queued).toHaveLength(3);
    const again = await lighter(['upload', 'queue', '--deployment', String(deploymentId)], env);
    expect(again.stdout).toMatch(/nothing new to queue/);

    const run = await lighter(['upload', 'run', '--once', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect((JSON.parse(run.stdout) as { succeeded: number[] }).succeeded).toHaveLength(3);

    const container = BlobServiceClient.fromConnectionString(azurite.connectionString()).getContainerClient('fleet');
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    expect(names.filter((n) => n.startsWith('bundles/')).sort()).toEqual(bundles.map((b) => `bundles/${b.sha256.slice(7)}.lighter`).sort());
    for (const b of bundles) {
      const data = await container.getBlockBlobClient(`bundles/${b.sha256.slice(7)}.lighter`).downloadToBuffer();
      expect(`sha256:${createHash('sha256').update(data).digest('hex')}`).toBe(b.sha256);
      for (const device of b.devices) {
        const index = JSON.parse((await container.getBlockBlobClient(`devices/${device}/index.json`).downloadToBuffer()).toString()) as { device: string; bundles: Array<{ sha256: string; deployment: string }> };
        expect(index).toMatchObject({ device, bundles: [{ sha256: b.sha256, deployment: 'app-v2-upload' }] });
      }
    }

    // On board: the device follows its index with a read-only SAS and finds its bundle in its inbox.
    const sas = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3600_000) });
    for (const device of fleet.devices) {
      const inbox = join(dir, device, 'inbox');
      const fetched = await lighter(['edge', 'fetch', '--once', '--device-id', device, '--inbox', inbox, '--state', join(dir, device, 'state')], { LIGHTER_EDGE_STORAGE_SAS_URL: sas });
      expect(fetched.code, fetched.stderr).toBe(0);
      expect(fetched.stdout + fetched.stderr).not.toContain('sig=');
      const mine = bundles.find((b) => b.devices.includes(device))!;
      expect(readdirSync(inbox)).toEqual([`${mine.sha256.slice(7)}.bundle`]);
      expect(`sha256:${createHash('sha256').update(readFileSync(join(inbox, readdirSync(inbox)[0]!))).digest('hex')}`).toBe(mine.sha256);
    }
  }, 120_000);
});
