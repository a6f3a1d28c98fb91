// The IoT Hub stand-in against the real SDKs, unchanged: azure-iot-device + azure-iot-device-mqtt
// over MQTT/TLS (device and module clients), azure-iothub over HTTPS (registry, queries, twins,
// applyConfigurationContent), SAS keys checked, faults injected.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import deviceSdk from 'azure-iot-device';
import type { Client as DeviceClient, ModuleClient as ModuleClientT, Twin as DeviceTwin } from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRegistry } from '../main/hub/registry-client.js';
import { startHubStandin, type HubStandin } from './support/hub-standin/index.js';

const { Client, ModuleClient, Message } = deviceSdk;
const { Mqtt } = mqttSdk;
const run = promisify(execFile);

let hub: HubStandin;
const open: { close(): Promise<unknown> }[] = [];

async function until<T>(what: string, f: () => T | undefined | false, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function device(cs: string): Promise<DeviceClient> {
  const c = Client.fromConnectionString(cs, Mqtt);
  await c.setOptions({ ca: hub.ca });
  await c.open();
  open.push(c);
  return c;
}

const report = (twin: DeviceTwin, patch: object) =>
  new Promise<void>((resolve, reject) => twin.properties.reported.update(patch, (err?: Error) => (err ? reject(err) : resolve())));

beforeAll(async () => {
  hub = await startHubStandin({
    devices: [
      { deviceId: 'edge-1', tags: { vessel: 'Nordic Star', group: 'north' }, capabilities: { iotEdge: true }, modules: ['lighter'] },
      ...Array.from({ length: 11 }, (_, n) => ({ deviceId: `sensor-${String(n).padStart(2, '0')}`, tags: { site: 'dock' } })),
    ],
  });
});

afterAll(async () => {
  for (const c of open) await c.close().catch(() => {});
  await hub?.stop();
});

describe('device SDK over MQTT/TLS', () => {
  it('gets the twin, patches reported, receives desired patches, sends D2C', async () => {
    const c = await device(hub.deviceConnectionString('sensor-00'));
    const twin = await c.getTwin();
    expect(twin.properties.desired.$version).toBe(1);
    await report(twin, { firmware: '1.2.3', nested: { a: 1 } });
    expect(hub.twin('sensor-00').properties).toMatchObject({ reported: { firmware: '1.2.3', nested: { a: 1 }, $version: 2 } });

    const desired: unknown[] = [];
    twin.on('properties.desired', (d: unknown) => desired.push(d));
    const registry = openRegistry(hub.serviceConnectionString, { ca: hub.ca });
    const { responseBody: st } = await registry.getTwin('sensor-00');
    await st.update({ properties: { desired: { interval: 30 } } });
    await until('desired patch', () => desired.some((d) => (d as { interval?: number }).interval === 30));

    await c.sendEvent(new Message(JSON.stringify({ temp: 21.5 })));
    const got = await until('D2C', () => hub.d2c.find((m) => m.deviceId === 'sensor-00'));
    expect(JSON.parse(got.text)).toEqual({ temp: 21.5 });
    expect(hub.twin('sensor-00').connectionState).toBe('Connected');
  });

  it('module client: twin and events on the module', async () => {
    const m: ModuleClientT = ModuleClient.fromConnectionString(hub.moduleConnectionString('edge-1', 'lighter'), Mqtt);
    await m.setOptions({ ca: hub.ca });
    await m.open();
    open.push(m);
    const twin = await m.getTwin();
    await report(twin, { lighter: { moduleVersion: '0.1.0', images: [{ ref: 'app:2', id: 'sha256:' + 'a'.repeat(64) }] } });
    expect(hub.twin('edge-1', 'lighter').properties).toMatchObject({ reported: { lighter: { moduleVersion: '0.1.0' } } });
    expect(hub.twin('edge-1').properties).toMatchObject({ reported: { $version: 1 } });
    await m.sendEvent(new Message('{"result":"applied"}'));
    const got = await until('module D2C', () => hub.d2c.find((x) => x.moduleId === 'lighter'));
    expect(got.deviceId).toBe('edge-1');
  });

  it('refuses a wrong key as IoT Hub does (CONNACK not authorized)', async () => {
    const good = hub.deviceConnectionString('sensor-01');
    const bad = good.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    const c = Client.fromConnectionString(bad, Mqtt);
    await c.setOptions({ ca: hub.ca });
    await expect(c.open()).rejects.toMatchObject({ name: 'UnauthorizedError' });
    expect(hub.mqttRefusals.at(-1)).toMatchObject({ clientId: 'sensor-01', reason: 'signature does not match the key' });
  });

  it('refuses a twin report over the 32 KB limit', async () => {
    const c = await device(hub.deviceConnectionString('sensor-02'));
    const twin = await c.getTwin();
    const big = Object.fromEntries(Array.from({ length: 12 }, (_, n) => [`k${n}`, 'x'.repeat(3000)]));
    await expect(report(twin, big)).rejects.toThrow();
    expect(hub.twin('sensor-02').properties).toMatchObject({ reported: { $version: 1 } });
  });
});

describe('service SDK over HTTPS', () => {
  it('pages a query with continuation tokens', async () => {
    const registry = openRegistry(hub.serviceConnectionString, { ca: hub.ca });
    const q = registry.createQuery('SELECT * FROM devices', 5);
    const ids: string[] = [];
    let pages = 0;
    while (q.hasMoreResults) {
      const { result } = await q.nextAsTwin();
      pages++;
      ids.push(...result.map((t) => t.deviceId));
    }
    expect(pages).toBe(3);
    expect(ids.sort()).toEqual(['edge-1', ...Array.from({ length: 11 }, (_, n) => `sensor-${String(n).padStart(2, '0')}`)].sort());
    const modules = await registry.createQuery("SELECT * FROM devices.modules WHERE moduleId = 'lighter'").nextAsTwin();
    expect(modules.result.map((t) => `${t.deviceId}/${t.moduleId}`)).toEqual(['edge-1/lighter']);
    const tagged = await registry.createQuery("SELECT * FROM devices WHERE tags.vessel = 'Nordic Star' AND capabilities.iotEdge = true").nextAsTwin();
    expect(tagged.result.map((t) => t.deviceId)).toEqual(['edge-1']);
  });

  it('twin ETag: a stale If-Match is refused, versions move', async () => {
    const registry = openRegistry(hub.serviceConnectionString, { ca: hub.ca });
    const { responseBody: t1 } = await registry.getTwin('sensor-03');
    const { responseBody: t2 } = await registry.updateTwin('sensor-03', { tags: { vessel: 'Aurora' } }, t1.etag);
    expect(t2.etag).not.toBe(t1.etag);
    expect(t2.tags).toEqual({ site: 'dock', vessel: 'Aurora' });
    await expect(registry.updateTwin('sensor-03', { tags: { vessel: 'Stale' } }, t1.etag)).rejects.toMatchObject({ name: 'InvalidEtagError' });
    const { responseBody: mt } = await registry.getModuleTwin('edge-1', 'lighter');
    const { responseBody: mt2 } = await registry.updateModuleTwin('edge-1', 'lighter', { properties: { desired: { poll: 5 } } }, mt.etag);
    expect((mt2 as unknown as { properties: { desired: { poll: number } } }).properties.desired.poll).toBe(5);
  });

  it('registry create/get/list; the created device connects with its keys', async () => {
    const registry = openRegistry(hub.serviceConnectionString, { ca: hub.ca });
    const { responseBody: d } = await registry.create({ deviceId: 'new-1', capabilities: { iotEdge: true } } as never);
    expect(d.authentication?.symmetricKey?.primaryKey).toBeTruthy();
    await expect(registry.create({ deviceId: 'new-1' })).rejects.toMatchObject({ name: 'DeviceAlreadyExistsError' });
    expect((await registry.get('new-1')).responseBody.deviceId).toBe('new-1');
    expect((await registry.list()).responseBody.map((x) => x.deviceId)).toContain('new-1');
    await expect(registry.get('nope')).rejects.toMatchObject({ name: 'DeviceNotFoundError' });
    const c = await device(`HostName=${hub.host};DeviceId=new-1;SharedAccessKey=${d.authentication!.symmetricKey!.primaryKey};GatewayHostName=localhost:${hub.mqttPort}`);
    expect((await c.getTwin()).properties.reported.$version).toBe(1);
  });

  it('applyConfigurationContentOnDevice is stored and sets the modules desired properties', async () => {
    const registry = openRegistry(hub.serviceConnectionString, { ca: hub.ca });
    const content = { modulesContent: { $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', modules: { app: { settings: { image: 'localhost:5000/app:2' } } } } }, $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {} } } } };
    await registry.applyConfigurationContentOnDevice('edge-1', content);
    expect(hub.appliedConfigurations.at(-1)).toMatchObject({ deviceId: 'edge-1', content });
    expect(hub.twin('edge-1', '$edgeAgent').properties).toMatchObject({ desired: { modules: { app: { settings: { image: 'localhost:5000/app:2' } } } } });
    await expect(registry.applyConfigurationContentOnDevice('sensor-04', content)).rejects.toMatchObject({ name: 'ArgumentError' });
  });

  it('refuses a wrong key (401) and a policy lacking the right', async () => {
    const bad = hub.serviceConnectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')}`);
    const err = await openRegistry(bad, { ca: hub.ca }).get('edge-1').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'UnauthorizedError', response: { statusCode: 401 } });
    const cs = hub.serviceConnectionString.replace('SharedAccessKeyName=iothubowner', 'SharedAccessKeyName=nobody');
    await expect(openRegistry(cs, { ca: hub.ca }).get('edge-1')).rejects.toMatchObject({ name: 'UnauthorizedError' });
  });

  it('faults: 429 with Retry-After, 503, dropped connection, down and up', async () => {
    const registry = openRegistry(hub.serviceConnectionString, { ca: hub.ca });
    hub.faults.enqueue({ status: 429, retryAfter: 3 });
    hub.faults.enqueue({ status: 503 });
    hub.faults.enqueue({ drop: true });
    const e429 = await registry.get('edge-1').catch((e: { name: string; response?: { headers: Record<string, string> } }) => e);
    expect(e429).toMatchObject({ name: 'ThrottlingError', response: { headers: { 'retry-after': '3' } } });
    await expect(registry.get('edge-1')).rejects.toMatchObject({ name: 'ServiceUnavailableError' });
    await expect(registry.get('edge-1')).rejects.toThrow();
    expect((await registry.get('edge-1')).responseBody.deviceId).toBe('edge-1');
    await hub.down();
    await expect(openRegistry(hub.serviceConnectionString, { ca: hub.ca }).get('edge-1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const c = Client.fromConnectionString(hub.deviceConnectionString('sensor-05'), Mqtt);
    await c.setOptions({ ca: hub.ca });
    await expect(c.open()).rejects.toThrow();
    await hub.up();
    expect((await openRegistry(hub.serviceConnectionString, { ca: hub.ca }).get('edge-1')).responseBody.deviceId).toBe('edge-1');
    await device(hub.deviceConnectionString('sensor-05'));
  });

  it('a child process reaches it through NODE_EXTRA_CA_CERTS and HostName=localhost:port', async () => {
    const script = `import { openRegistry } from '${process.cwd()}/dist/main/hub/registry-client.js';
      const r = await openRegistry(process.env.CS).get('edge-1'); console.log(r.responseBody.deviceId);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, CS: hub.serviceConnectionString, NODE_EXTRA_CA_CERTS: hub.caFile } });
    expect(stdout.trim()).toBe('edge-1');
  });
});
