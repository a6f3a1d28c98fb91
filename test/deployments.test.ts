// Deployments built once, on real images: create, build (each distinct (base, target) pair once,
// verified, in the content-addressed store), show; a second build reuses; nothing to do says so.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeys } from '../io/keys.js';
import { BundleStore } from '../main/deployments/bundle-store.js';
import { DeploymentService } from '../main/deployments/service.js';
import { openInventory, type Db } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { edgeManifest, seedFleet, type Fleet } from './support/fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-deployments-'));
let fleet: Fleet;
let db: Db;
let service: DeploymentService;
let key: string;

beforeAll(async () => {
  fleet = await seedFleet(join(dir, 'data'), 'dep');
  db = await openInventory(fleet.dbFile);
  service = new DeploymentService(new Inventory(db, 'ana'), await BundleStore.open(join(fleet.dataDir, 'bundles')), { creator: 'ana@lighter' });
  key = (await generateKeys(join(dir, 'keys'))).privateKey;
}, 300_000);
afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const storeFiles = () => readdirSync(join(fleet.dataDir, 'bundles', 'sha256')).sort();

describe('deployments', () => {
  it('builds each distinct (base, target) bundle once, verified, content-addressed, and records which device needs which', async () => {
    const id = service.create({ manifestJson: fleet.manifest, name: 'app-v2-north', group: 'dep-north', orderedBy: { name: 'Ana Lima', email: 'ana@fleet.example' }, priority: 3, dueAt: '2026-12-24T00:00:00Z' });
    const before = service.show(id);
    expect(before).toMatchObject({ state: 'draft', priority: 3, dueAt: '2026-12-24T00:00:00.000Z', orderedBy: { name: 'Ana Lima', email: 'ana@fleet.example' }, devices: fleet.devices, bundles: [] });

    const progress: Array<[number, number]> = [];
    const report = await service.build(id, key, { onProgress: (d, t) => progress.push([d, t]) });
    expect(report.upToDate).toBe(false);
    expect(report.bundles).toHaveLength(2);
    const shared = report.bundles.find((b) => b.devices.length === 2)!;
    const own = report.bundles.find((b) => b.devices.length === 1)!;
    expect(shared.devices).toEqual([fleet.devices[0], fleet.devices[1]]);
    expect(shared.base).toBe(`docker.io/${fleet.described.appV1.name}`);
    expect(own.devices).toEqual([fleet.devices[2]]);
    expect(own.base).toBe(`docker.io/${fleet.described.base.name}`);
    for (const b of report.bundles) {
      expect(b).toMatchObject({ built: true, verified: 'rebuilt-from-base', targetDigest: fleet.described.appV2.configDigest });
      const file = service.bundlePath(b.sha256);
      const bytes = readFileSync(file);
      expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(b.sha256);
      expect(bytes.length).toBe(b.size);
    }
    expect(storeFiles()).toEqual(report.bundles.map((b) => `${b.sha256.slice(7)}.bundle`).sort());
    expect(progress.at(-1)).toEqual([2000, 2000]);

    const after = service.show(id);
    expect(after.state).toBe('planned');
    expect(after.bundles.map((b) => [b.deviceId, b.bundleId])).toEqual([
      [fleet.devices[0], shared.bundleId],
      [fleet.devices[1], shared.bundleId],
      [fleet.devices[2], own.bundleId],
    ]);

    // Built once: building again reuses both bundles and writes nothing.
    const again = await service.build(id, key);
    expect(again.bundles.map((b) => [b.bundleId, b.built, b.verified])).toEqual(report.bundles.map((b) => [b.bundleId, false, 'earlier-build']));
    expect(storeFiles()).toHaveLength(2);
  }, 300_000);

  it('says so and builds nothing when every image is already on every device', async () => {
    const id = service.create({ manifestJson: edgeManifest({ app: fleet.images.appV1.tag }), name: 'app-v1-again', devices: [fleet.devices[0], fleet.devices[1]], orderedBy: { name: 'Ana Lima', email: 'ana@fleet.example' } });
    const files = storeFiles();
    const report = await service.build(id, join(dir, 'no-such-key'));
    expect(report).toMatchObject({ upToDate: true, bundles: [] });
    expect(storeFiles()).toEqual(files);
    expect(service.show(id).state).toBe('draft');
  });

  it('refuses a deployment with both devices and a group, an unknown device, or a bad email, recording nothing', () => {
    const base = { manifestJson: fleet.manifest, name: 'bad', orderedBy: { name: 'Ana', email: 'ana@fleet.example' } };
    expect(() => service.create({ ...base, devices: [fleet.devices[0]], group: 'dep-north' })).toThrow('give either devices or a group');
    expect(() => service.create({ ...base, devices: ['nope'] })).toThrow('unknown device "nope"');
    expect(() => service.create({ ...base, devices: [fleet.devices[0]], orderedBy: { name: 'Ana', email: 'ana' } })).toThrow('invalid email');
    expect(() => service.create({ ...base, devices: [fleet.devices[0]], dueAt: 'someday' })).toThrow('is not a date');
    expect((db.prepare("SELECT COUNT(*) AS n FROM deployments WHERE name = 'bad'").get() as { n: number }).n).toBe(0);
  });
});
