// `lighter hub ...` and `lighter notify ...` as a person or a pipeline runs them, against the IoT
// Hub stand-in (the CLI trusts its CA through NODE_EXTRA_CA_CERTS) and a real SMTP server; and the
// grep: the connection string's key appears in no output, no log, no inventory row, no file but
// the sealed secret, not even in a debug stack trace.
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { startHubStandin, type HubStandin } from './support/hub-standin/index.js';
import { freePort } from './support/registry.js';
import { smtpServer, type TestSmtp } from './support/smtp.js';

const { ModuleClient } = deviceSdk;
const { Mqtt } = mqttSdk;
const dir = mkdtempSync(join(tmpdir(), 'lighter-hub-cli-'));
const dataDir = join(dir, 'data');
const D = (c: string) => `sha256:${c.repeat(64)}`;
const AGENT = 'mcr.microsoft.com/azureiotedge-agent:1.5';
const HUBIMG = 'mcr.microsoft.com/azureiotedge-hub:1.5';
const APP2 = 'fleetacr.azurecr.io/vessel/cli-app:2';
const outputs: string[] = [];
let hub: HubStandin;
let smtp: TestSmtp;
let env: NodeJS.ProcessEnv;

// Asynchronous: the stand-in serves from this process, so a spawnSync would starve it.
function lighter(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['bin/lighter.js', ...args], { env: { ...env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    p.on('error', reject);
    p.on('close', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    p.stdin.end(opts.input ?? '');
  });
}

async function reportImages(images: Array<[string, string]>, results: unknown[] = []): Promise<void> {
  const c = ModuleClient.fromConnectionString(hub.moduleConnectionString('edge-1', 'lighter'), Mqtt);
  await c.setOptions({ ca: hub.ca });
  await c.open();
  const twin = await c.getTwin();
  const lighterReport = {
    schema: 1, moduleVersion: '0.1.0', deviceId: 'edge-1', moduleId: 'lighter',
    receiptKey: Buffer.from('k').toString('base64'), receiptKeyId: D('a'),
    images: images.map(([ref, id]) => ({ ref, id })).sort((a, b) => a.ref.localeCompare(b.ref)),
    results, store: { usedBytes: 1, freeBytes: 2 }, lastVersion: 1, updatedAt: '2026-12-01T10:00:00Z',
  };
  await new Promise<void>((resolve, reject) => twin.properties.reported.update({ lighter: lighterReport }, (e?: Error) => (e ? reject(e) : resolve())));
  await c.close();
}

const manifest = JSON.stringify({
  modulesContent: {
    $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', runtime: { type: 'docker', settings: {} }, systemModules: { edgeAgent: { type: 'docker', settings: { image: AGENT } }, edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: HUBIMG } } }, modules: { app: { version: '1.0', type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: APP2 } } } } },
    $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {} } },
  },
});

beforeAll(async () => {
  hub = await startHubStandin({ devices: [{ deviceId: 'edge-1', tags: { vessel: 'Nordic Star', group: 'north' }, capabilities: { iotEdge: true }, modules: ['lighter'] }] });
  smtp = await smtpServer(await freePort());
  await smtp.start();
  env = { ...process.env, LIGHTER_DATA_DIR: dataDir, LIGHTER_USER: 'ana', CI: 'true', NODE_EXTRA_CA_CERTS: hub.caFile, LIGHTER_HUB_CONNECTION_STRING: '' };
  await reportImages([[AGENT, D('1')], [HUBIMG, D('2')]]);
});

afterAll(async () => {
  await hub?.stop();
  await smtp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('lighter hub', () => {
  it('adds a hub from stdin only, lists it without the key', async () => {
    const extra = await lighter(['hub', 'add', 'fleet', hub.serviceConnectionString]);
    expect(extra.code).toBe(2);
    const added = await lighter(['hub', 'add', 'fleet'], { input: `${hub.serviceConnectionString}\n` });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`hub fleet added: ${hub.host}, policy iothubowner (connection string in the secret store)`);
    const listed = JSON.parse((await lighter(['hub', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(listed).toEqual([expect.objectContaining({ name: 'fleet', hostName: hub.host, policy: 'iothubowner', secret: 'stored' })]);
    const secrets = join(dataDir, 'secrets');
    for (const f of readdirSync(secrets)) expect(statSync(join(secrets, f)).mode & 0o777).toBe(0o600);
  });

  it('syncs, refuses a push naming the missing image, pushes after the device reports it, mails the orderer', async () => {
    const s = await lighter(['hub', 'sync', 'fleet']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^hub fleet: 1 devices added/);

    const db = await openInventory(join(dataDir, 'lighter.db'));
    const inv = new Inventory(db, 'ana');
    const id = inv.createDeployment({ name: 'cli-app-2', manifestJson: manifest, orderedBy: { name: 'Ana Lima', email: 'ana@fleet.example' }, devices: ['edge-1'] });
    inv.setDeploymentState(id, 'planned');
    inv.setDeviceImage('edge-1', { name: APP2 }, 'in_transit', { channel: 'upload' });
    db.close();

    const refused = await lighter(['hub', 'push', '--deployment', String(id)]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`refused edge-1: missing ${APP2}`);

    await reportImages([[AGENT, D('1')], [HUBIMG, D('2')], [APP2, D('5')]], [{ bundleId: D('9'), version: 1, file: 'b.lighter', result: 'applied', target: { ref: APP2, id: D('5') }, startedAt: '2026-12-01T10:00:00Z', finishedAt: '2026-12-01T10:00:05Z', durationMs: 5000 }]);
    expect((await lighter(['notify', 'relay', '--host', '127.0.0.1', '--port', String(smtp.port), '--from', 'lighter@fleet.example'])).code).toBe(0);
    const s2 = await lighter(['hub', 'sync']);
    expect(s2.code, s2.stderr).toBe(0);
    expect(s2.stdout).toContain('ready to push: cli-app-2');

    const pushed = await lighter(['hub', 'push', '--deployment', String(id)]);
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.stdout).toContain('pushed to edge-1\ndeployment cli-app-2: pushed');
    expect(hub.appliedConfigurations.map((c) => c.deviceId)).toEqual(['edge-1']);
    expect(JSON.stringify(hub.appliedConfigurations[0]!.content)).toContain('"image":"localhost:5000/vessel/cli-app:2"');
    expect((await lighter(['hub', 'push', '--deployment', String(id)])).stdout).toContain('edge-1: already has this manifest, nothing sent');
    expect(hub.appliedConfigurations).toHaveLength(1);

    const subjects = smtp.received.filter((m) => m.to.includes('ana@fleet.example')).map((m) => /^Subject: (.*)$/m.exec(m.raw)?.[1]).sort();
    expect(subjects).toEqual(['Lighter: deployment pushed (cli-app-2)', 'Lighter: deployment ready to push (cli-app-2)', 'Lighter: image applied (cli-app-2)']);
    const list = await lighter(['notify', 'list']);
    expect(list.stdout).toContain('deployment cli-app-2 pushed to edge-1 by ana');
  });

  it('a wrong key from the environment: 401 naming hub and policy, even with a debug stack', async () => {
    const bad = hub.serviceConnectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 9).toString('base64')}`).replace(hub.host, hub.host.replace('localhost', '127.0.0.1'));
    const add = await lighter(['hub', 'add', 'bad'], { env: { LIGHTER_HUB_CONNECTION_STRING: bad } });
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain('read from LIGHTER_HUB_CONNECTION_STRING');
    const r = await lighter(['hub', 'sync', 'bad'], { env: { LIGHTER_HUB_CONNECTION_STRING: bad, LIGHTER_DEBUG: '1' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/hub bad \(127\.0\.0\.1:\d+, policy iothubowner\) refused the key \(401 Unauthorized\)/);
    outputs.push(bad.split('SharedAccessKey=')[1]!);
  });

  it('the keys appear in no output, no inventory row, no file but the sealed secrets', () => {
    const badKey = outputs.pop()!;
    const keys = [/SharedAccessKey=([^;]+)/.exec(hub.serviceConnectionString)![1]!, badKey];
    const all = outputs.join('\n');
    for (const k of keys) expect(all.includes(k)).toBe(false);
    // the help text's placeholder `SharedAccessKey=...` is the only form allowed
    expect(all).not.toMatch(/SharedAccessKey=(?!\.\.\.)/);
    const db = new Database(join(dataDir, 'lighter.db'), { readonly: true });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
    const rows = JSON.stringify(tables.map((t) => db.prepare(`SELECT * FROM ${t}`).all()));
    db.close();
    for (const k of keys) expect(rows.includes(k)).toBe(false);
    for (const f of readdirSync(dataDir, { recursive: true }) as string[]) {
      const p = join(dataDir, f);
      if (statSync(p).isDirectory() || /secrets\/(key|.*\.secret)$/.test(f)) continue;
      const text = readFileSync(p).toString('latin1');
      for (const k of keys) expect(text.includes(k), f).toBe(false);
    }
  });
});
