// Issue #12 acceptance, in process: the real azure-iothub SDK syncs and pushes against the IoT Hub
// stand-in, the real azure-iot-device ModuleClient reports as the edge module does, mail goes
// through nodemailer to a real smtp-server.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import deviceSdk from 'azure-iot-device';
import type { ModuleClient as ModuleClientT } from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report, Result } from '../core/edge/report.js';
import { openInventory, type Db } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { buildHubServices, type HubServices } from '../main/services.js';
import { startHubStandin, type HubStandin } from './support/hub-standin/index.js';
import { freePort } from './support/registry.js';
import { smtpServer, type TestSmtp } from './support/smtp.js';

const { ModuleClient } = deviceSdk;
const { Mqtt } = mqttSdk;

const D = (c: string) => `sha256:${c.repeat(64)}`;
const AGENT = 'mcr.microsoft.com/azureiotedge-agent:1.5';
const HUBIMG = 'mcr.microsoft.com/azureiotedge-hub:1.5';
const APP1 = 'fleetacr.azurecr.io/vessel/app:1';
const APP2 = 'fleetacr.azurecr.io/vessel/app:2';
const manifest = (image: string) => JSON.stringify({
  modulesContent: {
    $edgeAgent: {
      'properties.desired': {
        schemaVersion: '1.1',
        runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25' } },
        systemModules: {
          edgeAgent: { type: 'docker', settings: { image: AGENT, createOptions: '{}' } },
          edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: HUBIMG, createOptions: '{}' } },
        },
        modules: { app: { version: '1.0', type: 'docker', status: 'running', restartPolicy: 'always', settings: { image, createOptions: '{"Env":["A=1"]}' } } },
      },
    },
    $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {}, storeAndForwardConfiguration: { timeToLiveSecs: 7200 } } },
  },
});

let dir: string;
let hub: HubStandin;
let smtp: TestSmtp;
let db: Db;
let inv: Inventory;
let svc: HubServices;
const clients: ModuleClientT[] = [];

function report(deviceId: string, images: Array<[string, string]>, results: Result[] = []): Report {
  return {
    schema: 1,
    moduleVersion: '0.1.0',
    deviceId,
    moduleId: 'lighter',
    receiptKey: Buffer.from(`key-of-${deviceId}`).toString('base64'),
    receiptKeyId: D(deviceId === 'edge-1' ? 'a' : 'b'),
    images: images.map(([ref, id]) => ({ ref, id })).sort((a, b) => a.ref.localeCompare(b.ref)),
    results,
    store: { usedBytes: 1000, freeBytes: 10_000 },
    lastVersion: results.length ? 2 : null,
    updatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

const result = (ref: string, id: string, ok: boolean): Result => ({
  bundleId: D('9'),
  version: 2,
  file: 'bundle-2.lighter',
  result: ok ? 'applied' : 'failed',
  ...(ok ? {} : { reason: 'wrong-base', message: 'base layers not in the local registry' }),
  target: { ref, id },
  startedAt: '2026-12-01T10:00:00Z',
  finishedAt: '2026-12-01T10:00:30Z',
  durationMs: 30_000,
});

/** Reports as the edge module does: the real ModuleClient over MQTT, the whole `lighter` object. */
async function moduleReports(deviceId: string, r: Report): Promise<void> {
  const c = ModuleClient.fromConnectionString(hub.moduleConnectionString(deviceId, 'lighter'), Mqtt);
  await c.setOptions({ ca: hub.ca });
  await c.open();
  clients.push(c);
  const twin = await c.getTwin();
  await new Promise<void>((resolve, reject) => twin.properties.reported.update({ lighter: null }, (e?: Error) => (e ? reject(e) : resolve())));
  await new Promise<void>((resolve, reject) => twin.properties.reported.update({ lighter: r }, (e?: Error) => (e ? reject(e) : resolve())));
  await c.close();
}

const state = (device: string, image: string) => inv.imagesOnDevice(device).find((i) => `${i.repository}:${i.tag}` === image)?.state;
const snapshot = () => JSON.stringify(['devices', 'device_images', 'images', 'deployments', 'deployment_devices', 'device_keys', 'notifications', 'hub_twins'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lighter-hub-sync-'));
  hub = await startHubStandin({
    devices: [
      { deviceId: 'edge-1', tags: { vessel: 'Nordic Star', group: 'north', site: 'Bergen' }, capabilities: { iotEdge: true }, modules: ['lighter'] },
      { deviceId: 'edge-2', tags: { vessel: 'Aurora', group: 'north' }, capabilities: { iotEdge: true }, modules: ['lighter'] },
      { deviceId: 'sensor-1', tags: { group: 'dock' } },
    ],
  });
  smtp = await smtpServer(await freePort());
  db = await openInventory(join(dir, 'lighter.db'));
  inv = new Inventory(db, 'ana');
  svc = await buildHubServices(inv, { dataDir: dir, ca: hub.ca });
  await svc.connections.add('fleet', hub.serviceConnectionString);
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await hub?.stop();
  await smtp?.stop();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('hub sync', () => {
  it('makes the inventory match the fleet; a second sync records no changes', async () => {
    await moduleReports('edge-1', report('edge-1', [[AGENT, D('1')], [HUBIMG, D('2')], [APP1, D('3')]]));
    const r = await svc.sync.sync('fleet');
    expect(r).toMatchObject({ ok: true, devices: { added: 3 } });
    expect(inv.device('edge-1')).toMatchObject({ vessel: 'Nordic Star', site: 'Bergen', device_group: 'north', hub: 'fleet', is_edge: 1 });
    expect(inv.device('sensor-1')).toMatchObject({ device_group: 'dock', is_edge: 0 });
    expect(inv.imagesOnDevice('edge-1').map((i) => [`${i.repository}:${i.tag}`, i.config_digest, i.state])).toEqual([
      [APP1, D('3'), 'present'], [AGENT, D('1'), 'present'], [HUBIMG, D('2'), 'present'],
    ].sort((a, b) => a[0]!.localeCompare(b[0]!)));
    expect(db.prepare('SELECT key_id FROM device_keys WHERE device_id = ?').get('edge-1')).toEqual({ key_id: D('a') });

    const again = await svc.sync.sync('fleet');
    expect(again.summary).toMatch(/^hub fleet: no changes/);
    expect(again).toMatchObject({ changes: 0, conflicts: 0, twinsSkipped: 3 });
    const last = db.prepare('SELECT summary, hub, ok FROM sync_history ORDER BY id DESC LIMIT 1').get();
    expect(last).toMatchObject({ hub: 'fleet', ok: 1, summary: again.summary });
  });

  it('gate: push refused naming the missing image; after the twin reports it and a sync, push sends the rewritten manifest once', async () => {
    const depId = inv.createDeployment({ name: 'app-2', manifestJson: manifest(APP2), orderedBy: { name: 'Ana Lima', email: 'ana@fleet.example' }, devices: ['edge-1'] });
    inv.setDeploymentState(depId, 'planned');
    inv.setDeviceImage('edge-1', { name: APP2 }, 'in_transit', { channel: 'usb' });

    const refused = await svc.push.push(depId);
    expect(refused.pushed).toEqual([]);
    expect(refused.refused).toEqual([{ deviceId: 'edge-1', missing: [APP2] }]);
    expect(hub.appliedConfigurations).toHaveLength(0);

    await moduleReports('edge-1', report('edge-1', [[AGENT, D('1')], [HUBIMG, D('2')], [APP1, D('3')], [APP2, D('4')]], [result(APP2, D('4'), true)]));
    const s = await svc.sync.sync('fleet');
    expect(s.deploymentsReady).toEqual(['app-2']);
    expect(state('edge-1', APP2)).toBe('applied');
    expect(inv.deployment(depId).state).toBe('ready');

    const pushed = await svc.push.push(depId);
    expect(pushed).toMatchObject({ pushed: ['edge-1'], refused: [], state: 'pushed' });
    expect(hub.appliedConfigurations).toHaveLength(1);
    const agent = (hub.appliedConfigurations[0]!.content.modulesContent as Record<string, Record<string, Record<string, unknown>>>).$edgeAgent!['properties.desired']!;
    const app = (agent.modules as Record<string, { imagePullPolicy: string; settings: { image: string } }>).app!;
    expect(app).toMatchObject({ imagePullPolicy: 'never', settings: { image: 'localhost:5000/vessel/app:2' } });
    expect(hub.twin('edge-1', '$edgeAgent').properties).toMatchObject({ desired: { modules: { app: { settings: { image: 'localhost:5000/vessel/app:2' } } } } });
    expect(db.prepare('SELECT pushed_by FROM deployment_devices WHERE deployment_id = ?').get(depId)).toEqual({ pushed_by: 'ana' });

    const twice = await svc.push.push(depId);
    expect(twice).toMatchObject({ pushed: [], unchanged: ['edge-1'], state: 'pushed' });
    expect(hub.appliedConfigurations).toHaveLength(1);
  });

  it('a failure on a device: image failed, a conflict for the USB transfer, a failure notification for the orderer', async () => {
    const depId = inv.createDeployment({ name: 'app-2-aurora', manifestJson: manifest(APP2), orderedBy: { name: 'Bo Berg', email: 'bo@fleet.example' }, devices: ['edge-2'] });
    inv.setDeploymentState(depId, 'planned');
    inv.setDeviceImage('edge-2', { name: APP2 }, 'in_transit', { channel: 'usb' });
    await moduleReports('edge-2', report('edge-2', [[AGENT, D('1')], [HUBIMG, D('2')]], [result(APP2, D('4'), false)]));
    const s = await svc.sync.sync('fleet');
    expect(state('edge-2', APP2)).toBe('failed');
    expect(s.conflicts).toBe(1);
    const entry = db.prepare('SELECT conflicts_json FROM sync_history WHERE id = ?').get(s.syncId) as { conflicts_json: string };
    expect(JSON.parse(entry.conflicts_json)).toEqual([expect.objectContaining({ device: 'edge-2', inventory: 'in transit by USB', twin: 'failed (wrong-base)' })]);
    expect(svc.notifications.list().find((n) => n.kind === 'image-failed')).toMatchObject({ deviceId: 'edge-2', deploymentName: 'app-2-aurora', mail: { to: 'bo@fleet.example', state: 'queued' } });
  });

  it('429 with Retry-After, then 503, then a dropped connection: sync completes, honouring the wait', async () => {
    hub.faults.enqueue({ status: 429, retryAfter: 2 });
    hub.faults.enqueue({ status: 503, retryAfter: 1 });
    hub.faults.enqueue({ drop: true });
    const from = hub.requests.length;
    const r = await svc.sync.sync('fleet');
    expect(r.ok).toBe(true);
    const reqs = hub.requests.slice(from);
    expect(reqs.slice(0, 4).map((q) => q.status)).toEqual([429, 503, 'dropped', 200]);
    expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(2000);
    expect(reqs[2]!.at - reqs[1]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('unreachable hub: a clear error, a failed sync entry, nothing else changed', async () => {
    const before = snapshot();
    await hub.down();
    try {
      const err = await svc.sync.sync('fleet', { call: { attempts: 2 } }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(new RegExp(`^hub fleet \\(localhost:${hub.httpsPort}, policy iothubowner\\) is unreachable while querying device twins: .*ECONNREFUSED`));
    } finally {
      await hub.up();
    }
    expect(snapshot()).toBe(before);
    expect(db.prepare('SELECT ok, summary FROM sync_history ORDER BY id DESC LIMIT 1').get()).toMatchObject({ ok: 0, summary: expect.stringMatching(/^hub fleet: sync failed: .*unreachable/) });
  });

  it('a wrong key: 401, an error naming the hub and the policy', async () => {
    await svc.connections.add('wrong', hub.serviceConnectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 3).toString('base64')}`));
    const err = await svc.sync.sync('wrong').catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^hub wrong \(localhost:\d+, policy iothubowner\) refused the key \(401 Unauthorized\)/);
    await svc.connections.remove('wrong');
  });

  it('mail: waits while the relay is down, goes out once each when it comes up', async () => {
    await svc.mailer.setRelay({ host: '127.0.0.1', port: smtp.port, from: 'lighter@fleet.example' });
    const queued = svc.notifications.queuedMail().length;
    expect(queued).toBeGreaterThanOrEqual(4); // applied + ready + pushed (Ana), failed (Bo)
    const down = await svc.mailer.flush();
    expect(down).toMatchObject({ sent: 0, waiting: queued, reason: expect.stringMatching(/did not take the mail/) });
    await smtp.start();
    const up = await svc.mailer.flush();
    expect(up).toMatchObject({ sent: queued, waiting: 0 });
    expect(await svc.mailer.flush()).toMatchObject({ sent: 0, waiting: 0 });
    const to = (addr: string) => smtp.received.filter((m) => m.to.includes(addr)).map((m) => /^Subject: (.*)$/m.exec(m.raw)?.[1]);
    expect(to('ana@fleet.example').sort()).toEqual(['Lighter: deployment pushed (app-2)', 'Lighter: deployment ready to push (app-2)', 'Lighter: image applied (app-2)']);
    expect(to('bo@fleet.example')).toEqual(['Lighter: image FAILED (app-2-aurora)']);
  });

  it('the connection string is in no inventory row or file but the sealed secret', () => {
    const key = /SharedAccessKey=([^;]+)/.exec(hub.serviceConnectionString)![1]!;
    db.pragma('wal_checkpoint(TRUNCATE)');
    for (const f of readdirSync(dir, { recursive: true }) as string[]) {
      if (!f.endsWith('.secret') && !f.endsWith('key') && !/\/$/.test(f)) {
        let text = '';
        try {
          text = readFileSync(join(dir, f)).toString('latin1');
        } catch {
          continue;
        }
        expect(text.includes(key), f).toBe(false);
        expect(text.includes('SharedAccessKey='), f).toBe(false);
      }
    }
  });
});
