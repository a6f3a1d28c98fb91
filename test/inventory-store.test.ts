// The inventory service on a real SQLite file: state machines, history and audit, the manifest gate,
// dashboard queries, and bad input refused with nothing changed.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDeviceList } from '../main/inventory/import-devices.js';
import { openInventory, type Db } from '../main/inventory/open.js';
import { IllegalTransitionError } from '../main/inventory/states.js';
import { resolveActor } from '../main/inventory/actor.js';
import { Inventory, UnknownEntityError } from '../main/inventory/store.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-inv-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const manifest = readFileSync(new URL('fixtures/manifests/fleet.json', import.meta.url), 'utf8');

// As `az iot hub query -q "select * from devices"` prints them (trimmed to the fields that matter).
const AZ = JSON.stringify([
  {
    deviceId: 'ship-01', etag: 'AAAAAAAAAAE=', deviceEtag: 'NjA0MzM5NzM1', status: 'enabled', statusUpdateTime: '0001-01-01T00:00:00Z',
    connectionState: 'Disconnected', lastActivityTime: '2026-11-20T07:31:12.1234567Z', cloudToDeviceMessageCount: 0, authenticationType: 'sas',
    x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null }, modelId: '', version: 5,
    tags: { group: 'north', vessel: 'MV Aurora', displayName: 'Aurora engine room' },
    properties: { desired: { $metadata: {}, $version: 1 }, reported: { $metadata: {}, $version: 1 } },
    capabilities: { iotEdge: true }, deviceScope: 'ms-azure-iot-edge://ship-01-638000000000000000',
  },
  { deviceId: 'ship-02', status: 'enabled', connectionState: 'Connected', lastActivityTime: '0001-01-01T00:00:00+00:00', capabilities: { iotEdge: true }, tags: { group: 'north', localRegistry: 'localhost:5001' } },
  { deviceId: 'truck-07', status: 'enabled', connectionState: 'Disconnected', capabilities: { iotEdge: true }, tags: { fleet: { group: 'mines' }, site: 'Pilbara' } },
]);

let db: Db;
let inv: Inventory;
const rowsIn = (table: string) => db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all();
const snapshot = () => ['devices', 'images', 'device_images', 'deployments', 'transfers', 'bundles', 'state_history', 'audit_log', 'sync_history'].map(rowsIn);

beforeEach(async () => {
  db?.close();
  db = await openInventory(join(dir, `${Math.random().toString(36).slice(2)}.db`));
  inv = new Inventory(db, 'ana');
  inv.importDevices(parseDeviceList(AZ, { hub: 'fleet-hub' }), 'iothub', 'az query');
});

describe('devices', () => {
  it('imports the az shape: group, vessel, site and registry from tags, never-seen as null', () => {
    expect(inv.device('ship-01')).toMatchObject({ device_group: 'north', vessel: 'MV Aurora', display_name: 'Aurora engine room', hub: 'fleet-hub', is_edge: 1, connection_state: 'Disconnected', last_seen: '2026-11-20T07:31:12.123Z' });
    expect(inv.device('ship-02')).toMatchObject({ last_seen: null, local_registry: 'localhost:5001' });
    expect(inv.device('truck-07').device_group).toBeNull();
    const nested = parseDeviceList(AZ, { groupTag: 'fleet.group' });
    expect(nested.find((d) => d.id === 'truck-07')!.group).toBe('mines');
  });

  it('re-import updates what changed and records the sync', () => {
    const again = JSON.parse(AZ);
    again[0].connectionState = 'Connected';
    const r = inv.importDevices(parseDeviceList(JSON.stringify(again)), 'iothub', 'second');
    expect(r).toEqual({ added: [], updated: ['ship-01'], unchanged: ['ship-02', 'truck-07'], conflicts: 0 });
    expect(inv.device('ship-01').hub).toBe('fleet-hub'); // kept: this import did not say
    const sync = db.prepare('SELECT summary, changes_json FROM sync_history ORDER BY id DESC LIMIT 1').get() as { summary: string; changes_json: string };
    expect(sync.summary).toBe('second: 0 added, 1 updated, 2 unchanged');
    expect(JSON.parse(sync.changes_json)).toEqual([{ device: 'ship-01', fields: { connection_state: ['Disconnected', 'Connected'] } }]);
  });

  it('flags a regrouped device that an open deployment targets', () => {
    inv.createDeployment({ name: 'north-q4', manifestJson: manifest, orderedBy: { name: 'Ana Lima', email: 'ana@fleet.example' }, devices: ['ship-01'] });
    const again = JSON.parse(AZ);
    again[0].tags.group = 'south';
    expect(inv.importDevices(parseDeviceList(JSON.stringify(again)), 'iothub', 'third').conflicts).toBe(1);
    const sync = db.prepare('SELECT summary, conflicts_json FROM sync_history ORDER BY id DESC LIMIT 1').get() as { summary: string; conflicts_json: string };
    expect(sync.summary).toBe('third: 0 added, 1 updated, 2 unchanged, 1 conflicts');
    expect(JSON.parse(sync.conflicts_json)).toEqual([{ device: 'ship-01', field: 'device_group', from: 'north', to: 'south', deployment: 'north-q4' }]);
  });

  it.each([
    ['{"deviceId":"x"}', /must be a JSON array/],
    ['[{"deviceId":"bad id with spaces"}]', /entry 0: deviceId: not a valid IoT Hub device id/],
    ['[{"deviceId":"a"},{"deviceId":"a"}]', /entry 1: device a appears twice/],
    ['[{"deviceId":"a","lastActivityTime":"yesterday"}]', /entry 0\.lastActivityTime "yesterday" is not a date/],
    ['[{"deviceId":"a"', /not valid JSON/],
  ])('refuses a malformed device list %s', (text, msg) => {
    expect(() => parseDeviceList(text)).toThrow(msg);
  });

  it('an unknown device is a specific error and changes nothing', () => {
    const before = snapshot();
    expect(() => inv.recordImage('ship-99', { name: 'fleetacr.azurecr.io/vessel/telemetry:2.0' })).toThrow(UnknownEntityError);
    expect(() => inv.recordImage('ship-99', { name: 'fleetacr.azurecr.io/vessel/telemetry:2.0' })).toThrow('unknown device "ship-99": not in the inventory');
    expect(() => inv.devicesInGroup('south')).toThrow('no devices in group "south"');
    expect(snapshot()).toEqual(before);
  });

  it('takes the actor from --user, then LIGHTER_USER, then the OS account', () => {
    expect(resolveActor('bob', { LIGHTER_USER: 'carol' })).toBe('bob');
    expect(resolveActor(undefined, { LIGHTER_USER: 'carol' })).toBe('carol');
    expect(resolveActor(undefined, {})).toMatch(/\S/);
  });
});

describe('device images', () => {
  const T20 = { name: 'fleetacr.azurecr.io/vessel/telemetry:2.0' };
  function bundle() {
    inv.recordBundle({ id: 'b1', version: 1, size: 1000, sha256: `sha256:${'1'.repeat(64)}`, entries: [{ base: { name: 'fleetacr.azurecr.io/vessel/telemetry:1.9' }, target: T20 }] });
  }

  it('moves through legal states, each move in history with its actor', () => {
    bundle();
    inv.setDeviceImage('ship-01', T20, 'in_transit', { bundleId: 'b1', channel: 'usb' });
    inv.setDeviceImage('ship-01', T20, 'failed', { reason: 'checksum mismatch on stick' });
    inv.setDeviceImage('ship-01', T20, 'in_transit', { bundleId: 'b1', channel: 'upload' });
    inv.setDeviceImage('ship-01', T20, 'applied');
    inv.setDeviceImage('ship-01', T20, 'present');
    expect(inv.imagesOnDevice('ship-01')).toMatchObject([{ tag: '2.0', state: 'present', bundle_id: 'b1', channel: 'upload' }]);
    const h = db.prepare("SELECT from_state, to_state, actor, reason FROM state_history WHERE entity = 'device_image' ORDER BY id").all();
    expect(h).toEqual([
      { from_state: null, to_state: 'in_transit', actor: 'ana', reason: null },
      { from_state: 'in_transit', to_state: 'failed', actor: 'ana', reason: 'checksum mismatch on stick' },
      { from_state: 'failed', to_state: 'in_transit', actor: 'ana', reason: null },
      { from_state: 'in_transit', to_state: 'applied', actor: 'ana', reason: null },
      { from_state: 'applied', to_state: 'present', actor: 'ana', reason: null },
    ]);
    expect((db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'device-image' AND actor = 'ana'").get() as { n: number }).n).toBe(5);
  });

  it('refuses illegal moves with a specific error, changing nothing', () => {
    inv.recordImage('ship-01', T20);
    const before = snapshot();
    expect(() => inv.setDeviceImage('ship-01', T20, 'in_transit')).toThrow(IllegalTransitionError);
    expect(() => inv.setDeviceImage('ship-01', T20, 'in_transit')).toThrow(
      'image fleetacr.azurecr.io/vessel/telemetry:2.0 on device ship-01 cannot move from present to in_transit; from present it may move to nothing (final state)',
    );
    expect(() => inv.setDeviceImage('ship-02', T20, 'applied')).toThrow('cannot move from (none) to applied; from (none) it may move to in_transit, present');
    expect(() => inv.setDeviceImage('ship-02', T20, 'in_transit', { bundleId: 'nope' })).toThrow('unknown bundle "nope"');
    expect(snapshot()).toEqual(before);
  });

  it('learns a digest later for an image first recorded by tag', () => {
    inv.recordImage('ship-01', T20);
    const d = `sha256:${'a'.repeat(64)}`;
    const r = inv.recordImage('ship-01', { ...T20, configDigest: d });
    expect(r.changed).toBe(false);
    expect(r.image.config_digest).toBe(d);
    expect((db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n).toBe(1);
  });

  it('answers which devices have an image', () => {
    inv.recordImage('ship-01', T20);
    inv.recordImage('ship-02', T20);
    bundle();
    inv.setDeviceImage('truck-07', T20, 'in_transit', { bundleId: 'b1' });
    expect(inv.devicesWithImage(T20.name).map((r) => r.device_id)).toEqual(['ship-01', 'ship-02']);
    expect(inv.devicesWithImage(T20.name, ['in_transit']).map((r) => r.device_id)).toEqual(['truck-07']);
  });
});

describe('transfers', () => {
  it('counts attempts, keeps the last error, and reports per day', () => {
    inv.recordBundle({ id: 'b1', version: 1, size: 10, sha256: `sha256:${'1'.repeat(64)}`, entries: [{ base: null, target: { name: 'app:1' } }] });
    const t = inv.createTransfer('b1', 'ship-01', 'usb', 10);
    inv.setTransferState(t, 'running');
    inv.transferProgress(t, 4);
    inv.setTransferState(t, 'failed', { error: 'stick removed' });
    expect(() => inv.transferProgress(t, 5)).toThrow(`transfer ${t} is not running`);
    inv.setTransferState(t, 'queued');
    inv.setTransferState(t, 'running');
    inv.setTransferState(t, 'succeeded');
    const u = inv.createTransfer('b1', 'ship-02', 'upload');
    inv.setTransferState(u, 'running');
    inv.setTransferState(u, 'failed', { error: 'link down' });
    expect(db.prepare('SELECT attempts, last_error, state FROM transfers WHERE id = ?').get(t)).toEqual({ attempts: 2, last_error: 'stick removed', state: 'succeeded' });
    const today = new Date().toISOString().slice(0, 10);
    expect(inv.transfersPerDay()).toEqual([{ day: today, succeeded: 1, failed: 1 }]);
    const before = snapshot();
    expect(() => inv.setTransferState(t, 'running')).toThrow(`transfer ${t} cannot move from succeeded to running`);
    expect(() => inv.setTransferState(u, 'succeeded')).toThrow(`transfer ${u} cannot move from failed to succeeded; from failed it may move to queued, cancelled`);
    expect(() => inv.setTransferState(999, 'running')).toThrow('unknown transfer 999');
    expect(() => inv.createTransfer('b1', 'ship-99', 'usb')).toThrow('unknown device "ship-99"');
    expect(snapshot()).toEqual(before);
  });
});

describe('deployments and the manifest gate', () => {
  const images = [
    'mcr.microsoft.com/azureiotedge-agent:1.5',
    'mcr.microsoft.com/azureiotedge-hub:1.5',
    'fleetacr.azurecr.io/vessel/modbus-reader:3.2.1',
    'fleetacr.azurecr.io/vessel/telemetry:2.0',
    'fleetacr.azurecr.io/vessel/engine-monitor:5.4',
  ];
  const order = () => inv.createDeployment({ name: 'north-q4', manifestJson: manifest, orderedBy: { name: 'Ana Lima', email: 'ana@fleet.example' }, devices: ['ship-01', 'ship-02'] });

  it('is ready only when every image is confirmed on every device', () => {
    const id = order();
    inv.setDeploymentState(id, 'planned');
    for (const dev of ['ship-01', 'ship-02']) for (const i of images) inv.recordImage(dev, { name: i });
    inv.recordBundle({ id: 'b-lighter', version: 1, size: 10, sha256: `sha256:${'2'.repeat(64)}`, entries: [{ base: null, target: { name: 'fleetacr.azurecr.io/lighter/edge-module:0.1.0' } }] });
    inv.recordImage('ship-01', { name: 'fleetacr.azurecr.io/lighter/edge-module:0.1.0' });
    inv.setDeviceImage('ship-02', { name: 'fleetacr.azurecr.io/lighter/edge-module:0.1.0' }, 'in_transit', { bundleId: 'b-lighter' });
    inv.setDeploymentState(id, 'transferring');
    expect(inv.deploymentGate(id)).toEqual({
      ready: false,
      devices: [
        { deviceId: 'ship-01', missing: [] },
        { deviceId: 'ship-02', missing: ['fleetacr.azurecr.io/lighter/edge-module:0.1.0'] },
      ],
    });
    const before = snapshot();
    expect(() => inv.setDeploymentState(id, 'ready')).toThrow('deployment north-q4 is not ready: device ship-02 does not have fleetacr.azurecr.io/lighter/edge-module:0.1.0 yet');
    expect(snapshot()).toEqual(before);
    inv.setDeviceImage('ship-02', { name: 'fleetacr.azurecr.io/lighter/edge-module:0.1.0' }, 'applied');
    inv.setDeploymentState(id, 'ready');
    inv.setDeploymentState(id, 'pushed');
    const s = inv.deploymentStatus(id);
    expect(s.state).toBe('pushed');
    expect(s.history.map((h) => h.to_state)).toEqual(['draft', 'planned', 'transferring', 'ready', 'pushed']);
    expect(() => inv.setDeploymentState(id, 'cancelled')).toThrow('deployment north-q4 cannot move from pushed to cancelled; from pushed it may move to nothing (final state)');
    expect(inv.deploymentsByOrderer()).toEqual([{ ordered_by_name: 'Ana Lima', ordered_by_email: 'ana@fleet.example', total: 1, pushed: 1, open: 0 }]);
  });

  it('refuses a malformed manifest, a bad orderer and unknown devices, changing nothing', () => {
    const before = snapshot();
    const bad = (over: object) => () => inv.createDeployment({ name: 'x', manifestJson: manifest, orderedBy: { name: 'A', email: 'a@b.c' }, devices: ['ship-01'], ...over });
    expect(bad({ manifestJson: '{"modulesContent": {}}' })).toThrow('manifest has no modulesContent.$edgeAgent["properties.desired"] object');
    expect(bad({ orderedBy: { name: 'A', email: 'not-an-email' } })).toThrow('invalid email "not-an-email"');
    expect(bad({ devices: ['ship-01', 'ghost'] })).toThrow('unknown device "ghost"');
    expect(snapshot()).toEqual(before);
  });

  it('summarises the inventory', () => {
    order();
    inv.recordImage('ship-01', { name: images[0]! });
    expect(inv.status()).toMatchObject({ devices: 3, groups: [{ group: null, devices: 1 }, { group: 'north', devices: 2 }], images: 1, deviceImages: { present: 1 }, deployments: { draft: 1 } });
  });
});
