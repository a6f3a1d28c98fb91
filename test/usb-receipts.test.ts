// Acceptance (issue 13, receipts on shore): receipts signed by a device key learnt from its twin,
// by this data directory's own key, or by an enrolled crew key are taken (applied, failed with its
// reason); unknown keys and devices, altered receipts, a device key signing for another device and
// receipts for bundles never exported to that device are refused, each with its reason, changing nothing.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReceiptBody } from '../core/edge/receipt.js';
import { generateKeys } from '../io/keys.js';
import { loadOrCreateReceiptKey, writeReceipt, type ReceiptKey } from '../io/receipt.js';
import { BundleStore } from '../main/deployments/bundle-store.js';
import { DeploymentService } from '../main/deployments/service.js';
import { openInventory, type Db } from '../main/inventory/open.js';
import type { DeviceBundle } from '../contract/index.js';
import { Inventory } from '../main/inventory/store.js';
import { UsbExporter } from '../main/usb/export.js';
import { ReceiptIntake } from '../main/usb/receipts.js';
import { seedFleet, type Fleet } from './support/fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-usb-receipts-'));
let fleet: Fleet;
let db: Db;
let inv: Inventory;
let intake: ReceiptIntake;
let rows: DeviceBundle[];
let crew: ReceiptKey;

beforeAll(async () => {
  fleet = await seedFleet(join(dir, 'shore'), 'usbr');
  const keys = await generateKeys(join(dir, 'keys'));
  db = await openInventory(fleet.dbFile);
  inv = new Inventory(db, 'ana');
  const store = await BundleStore.open(join(fleet.dataDir, 'bundles'));
  const deployments = new DeploymentService(inv, store);
  const id = deployments.create({ manifestJson: fleet.manifest, name: 'receipts', group: 'usbr-north', orderedBy: { name: 'Ana', email: 'ana@fleet.example' } });
  await deployments.build(id, keys.privateKey);
  const stick = join(dir, 'stick');
  mkdirSync(stick);
  await new UsbExporter(inv, store).export({ deployment: id, to: [stick], key: keys.privateKey });
  rows = deployments.show(id).bundles;
  intake = new ReceiptIntake(inv, fleet.dataDir);
  crew = await loadOrCreateReceiptKey(join(dir, 'crew'));
  writeFileSync(join(dir, 'crew.pem'), crew.publicKeyPem);
  expect(await intake.trust(join(dir, 'crew.pem'), { label: 'crew laptop' })).toEqual({ keyId: crew.keyId, added: true });
}, 600_000);

afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

function body(deviceId: string, row: DeviceBundle, over: Partial<ReceiptBody> = {}): Omit<ReceiptBody, 'signer'> {
  return {
    format: 1,
    deviceId,
    moduleId: 'lighter-usb',
    bundleId: row.bundleId,
    version: row.version,
    file: { name: `${row.sha256.slice(7)}.bundle`, sha256: row.sha256, size: row.size },
    result: 'applied',
    target: { ref: row.target.ref, id: row.target.configDigest },
    startedAt: '2026-12-01T10:00:00.000Z',
    finishedAt: '2026-12-01T10:01:00.000Z',
    ...over,
  };
}

const rowOf = (device: string) => rows.find((r) => r.deviceId === device)!;
const states = () => db.prepare("SELECT device_id, state FROM device_images WHERE state IN ('in_transit', 'applied', 'failed') ORDER BY device_id").all();
const taken = () => db.prepare('SELECT COUNT(*) AS n FROM receipts').get() as { n: number };

describe('USB receipts on shore', () => {
  it('refuses unknown keys and devices, altered receipts, a device key signing for another device, and bundles never exported, changing nothing', async () => {
    const [d1, d2, d3] = fleet.devices;
    const stick = join(dir, 'bad');
    const out = join(stick, 'receipts');
    const stranger = await loadOrCreateReceiptKey(join(dir, 'stranger'));
    const device2 = await loadOrCreateReceiptKey(join(dir, 'device2'));
    // Device 2's key, as a hub sync learns it from the module twin.
    db.prepare('INSERT INTO device_keys (device_id, key_id, public_key, source, learnt_at) VALUES (?, ?, ?, ?, ?)').run(d2, device2.keyId, device2.publicKeyBase64, 'iothub', new Date().toISOString());

    await writeReceipt(out, stranger.sign(body(d1, rowOf(d1))));
    const altered = await writeReceipt(out, crew.sign(body(d2, rowOf(d2), { result: 'failed', reason: 'store-full', message: 'registry quota reached' })));
    writeFileSync(altered, readFileSync(altered, 'utf8').replace('registry quota reached', 'all good here, trust me'));
    await writeReceipt(out, crew.sign(body('usbr-ghost', rowOf(d1))));
    await writeReceipt(out, device2.sign(body(d3, rowOf(d3))));
    // The shared bundle (devices 1 and 2) was never exported to device 3.
    await writeReceipt(out, crew.sign(body(d3, rowOf(d1), { startedAt: '2026-12-01T11:00:00.000Z', finishedAt: '2026-12-01T11:00:01.000Z' })));
    writeFileSync(join(out, 'junk.receipt.json'), '{"format": 1');

    const before = [states(), taken()];
    const r = await intake.take(stick);
    expect(r.taken).toEqual([]);
    expect(r.refused.map((x) => x.code).sort()).toEqual(['bad-signature', 'malformed', 'never-exported', 'unknown-device', 'unknown-key', 'wrong-key']);
    expect(r.refused.find((x) => x.code === 'wrong-key')!.detail).toBe(`signed with device ${d2}'s key but says it is from ${d3}`);
    expect([states(), taken()]).toEqual(before);
    const sync = db.prepare("SELECT summary, conflicts_json FROM sync_history WHERE source = 'usb-receipt' ORDER BY id DESC LIMIT 1").get() as { summary: string; conflicts_json: string };
    expect(sync.summary).toMatch(/0 taken \(0 applied, 0 failed\), 6 refused$/);
    expect((JSON.parse(sync.conflicts_json) as unknown[]).length).toBe(6);
  });

  it("takes receipts signed by a twin's key, this data directory's own key and an enrolled key: applied, or failed with the reason", async () => {
    const [d1, d2, d3] = fleet.devices;
    const stick = join(dir, 'good');
    const out = join(stick, 'receipts');
    const device2 = await loadOrCreateReceiptKey(join(dir, 'device2'));
    const own = await loadOrCreateReceiptKey(fleet.dataDir);
    await writeReceipt(out, crew.sign(body(d1, rowOf(d1))));
    await writeReceipt(out, device2.sign(body(d2, rowOf(d2), { moduleId: 'lighter' })));
    await writeReceipt(out, own.sign(body(d3, rowOf(d3), { result: 'failed', reason: 'no-matching-base', message: 'base image not in the local registry' })));
    const r = await intake.take(stick);
    expect(r.refused).toEqual([]);
    expect(r.taken.map((t) => [t.deviceId, t.result, t.reason, t.keySource])).toEqual([
      [d1, 'applied', null, 'enrolled'],
      [d2, 'applied', null, 'twin'],
      [d3, 'failed', 'no-matching-base', 'own'],
    ]);
    expect(states()).toEqual([
      { device_id: d1, state: 'applied' },
      { device_id: d2, state: 'applied' },
      { device_id: d3, state: 'failed' },
    ]);
    const reason = db.prepare("SELECT reason FROM state_history WHERE entity = 'device_image' AND to_state = 'failed' ORDER BY id DESC LIMIT 1").get() as { reason: string };
    expect(reason.reason).toBe('no-matching-base: base image not in the local registry');
  });
});
