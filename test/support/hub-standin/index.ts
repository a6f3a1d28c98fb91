// The IoT Hub stand-in tests start and stop themselves (no IoT Hub emulator exists): the real
// `azure-iothub` service SDK talks HTTPS REST to it and the real `azure-iot-device(-mqtt)` SDKs
// MQTT over TLS, both on loopback with a CA made at start, both checking SAS tokens.
//
//   const hub = await startHubStandin({ devices: [{ deviceId: 'd1', capabilities: { iotEdge: true }, modules: ['lighter'] }] });
//   Registry via hub.serviceConnectionString (HostName=localhost:<https port>; see main/hub/registry-client.ts),
//   ModuleClient.fromConnectionString(hub.moduleConnectionString('d1', 'lighter'), Mqtt) + setOptions({ ca: hub.ca })
//
// Fault injection: hub.faults.enqueue({ status: 429, retryAfter: 2 }, 1), { status: 503 }, { drop: true };
// hub.down() / hub.up() close and reopen both ports; hub.dropMqttConnections().
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { makeCerts } from './certs.js';
import { Hub, HubError, type AppliedConfiguration, type D2cMessage, type Policy } from './hub.js';
import { startMqtt, type MqttFront } from './mqtt.js';
import { newKey, twinJson, type DeviceDefinition, type JsonObject } from './registry.js';
import { handleRest, sendError } from './rest.js';

export type { DeviceDefinition, D2cMessage, AppliedConfiguration, JsonObject };

export type Fault = { status: 429 | 503; retryAfter?: number } | { drop: true };

export interface RestRequestLog {
  method: string;
  path: string;
  status: number | 'dropped';
  at: number;
}

export interface StartOptions {
  devices?: DeviceDefinition[];
  /** HTTPS (service API) port; 0 or absent: a free one */
  port?: number;
  mqttPort?: number;
  /** extra shared access policies; `iothubowner` (all rights) always exists */
  policies?: Partial<Policy>[];
}

export interface HubStandin {
  mqttPort: number;
  httpsPort: number;
  /** `localhost:<https port>`, the HostName in every connection string */
  host: string;
  ca: string;
  caFile: string;
  serviceConnectionString: string;
  serviceConnectionStringFor(policy: string): string;
  deviceConnectionString(deviceId: string): string;
  moduleConnectionString(deviceId: string, moduleId: string): string;
  addDevice(def: DeviceDefinition): void;
  addModule(deviceId: string, moduleId: string): void;
  /** the twin as the service API returns it */
  twin(deviceId: string, moduleId?: string): JsonObject;
  /** reported properties as if the device (or e.g. `$edgeAgent`) had patched them */
  setReported(deviceId: string, moduleId: string | undefined, patch: JsonObject): void;
  d2c: D2cMessage[];
  appliedConfigurations: AppliedConfiguration[];
  requests: RestRequestLog[];
  mqttRefusals: { clientId: string; reason: string }[];
  sendC2D(deviceId: string, body: string | Buffer, properties?: Record<string, string>): Promise<void>;
  faults: { enqueue(fault: Fault, times?: number): void; clear(): void; pending(): number };
  dropMqttConnections(): void;
  down(): Promise<void>;
  up(): Promise<void>;
  readonly isUp: boolean;
  /** the hub state, for events ('d2c', 'reported', 'desired', 'configuration') */
  hub: Hub;
  stop(): Promise<void>;
}

const listen = (server: HttpsServer | TlsServer, port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });

const closeServer = (server: HttpsServer | TlsServer, sockets: Set<Socket>): Promise<void> =>
  new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });

export async function startHubStandin(opts: StartOptions = {}): Promise<HubStandin> {
  const dir = mkdtempSync(join(tmpdir(), 'lighter-hub-standin-'));
  const certs = makeCerts(dir);
  const hub = new Hub();
  hub.policies.set('iothubowner', { name: 'iothubowner', primaryKey: newKey(), rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] });
  for (const p of opts.policies ?? []) if (p.name) hub.policies.set(p.name, { name: p.name, primaryKey: p.primaryKey ?? newKey(), rights: p.rights ?? ['RegistryRead', 'RegistryWrite', 'ServiceConnect'] });
  for (const d of opts.devices ?? []) hub.registry.addDevice(d);

  const faults: Fault[] = [];
  const requests: RestRequestLog[] = [];
  const httpsSockets = new Set<Socket>();
  const mqttSockets = new Set<Socket>();

  const https = createHttpsServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const log: RestRequestLog = { method: req.method ?? '', path, status: 0, at: Date.now() };
    requests.push(log);
    const fault = faults.shift();
    if (fault && 'drop' in fault) {
      log.status = 'dropped';
      req.socket.destroy();
      return;
    }
    if (fault) {
      log.status = fault.status;
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
      req.resume();
      return sendError(res, fault.status === 429 ? new HubError(429, 'ThrottlingException', 'Throttled by the stand-in') : new HubError(503, 'ServiceUnavailable', 'Unavailable (stand-in fault)'), headers);
    }
    res.on('finish', () => (log.status = res.statusCode));
    void handleRest(hub, req, res);
  });
  https.on('connection', (s: Socket) => {
    httpsSockets.add(s);
    s.on('close', () => httpsSockets.delete(s));
  });

  let mqtt: MqttFront = await startMqtt(hub);
  const tls = createTlsServer({ key: certs.key, cert: certs.cert }, (socket: TLSSocket) => {
    mqttSockets.add(socket);
    socket.on('close', () => mqttSockets.delete(socket));
    mqtt.broker.handle(socket);
  });

  const httpsPort = await listen(https, opts.port ?? 0);
  const mqttPort = await listen(tls, opts.mqttPort ?? 0);
  hub.host = `localhost:${httpsPort}`;
  let isUp = true;

  const serviceCs = (policy: string) => {
    const p = hub.policies.get(policy);
    if (!p) throw new Error(`no policy ${policy}`);
    return `HostName=${hub.host};SharedAccessKeyName=${p.name};SharedAccessKey=${p.primaryKey}`;
  };
  const standin: HubStandin = {
    mqttPort,
    httpsPort,
    host: hub.host,
    ca: certs.ca,
    caFile: certs.caFile,
    serviceConnectionString: serviceCs('iothubowner'),
    serviceConnectionStringFor: serviceCs,
    deviceConnectionString(deviceId) {
      const i = hub.identity(deviceId);
      return `HostName=${hub.host};DeviceId=${i.deviceId};SharedAccessKey=${i.primaryKey};GatewayHostName=localhost:${mqttPort}`;
    },
    moduleConnectionString(deviceId, moduleId) {
      const i = hub.identity(deviceId, moduleId);
      return `HostName=${hub.host};DeviceId=${i.deviceId};ModuleId=${moduleId};SharedAccessKey=${i.primaryKey};GatewayHostName=localhost:${mqttPort}`;
    },
    addDevice: (def) => void hub.registry.addDevice(def),
    addModule: (deviceId, moduleId) => void hub.registry.addModule(deviceId, moduleId),
    twin: (deviceId, moduleId) => twinJson(hub.identity(deviceId, moduleId)),
    setReported: (deviceId, moduleId, patch) => void hub.patchReported(hub.identity(deviceId, moduleId), patch),
    d2c: hub.d2c,
    appliedConfigurations: hub.appliedConfigurations,
    requests,
    get mqttRefusals() {
      return mqtt.refusals;
    },
    sendC2D: (deviceId, body, properties) => mqtt.sendC2D(deviceId, body, properties),
    faults: {
      enqueue(fault, times = 1) {
        for (let n = 0; n < times; n++) faults.push(fault);
      },
      clear: () => void faults.splice(0),
      pending: () => faults.length,
    },
    dropMqttConnections() {
      for (const s of mqttSockets) s.destroy();
    },
    async down() {
      if (!isUp) return;
      isUp = false;
      await Promise.all([closeServer(https, httpsSockets), closeServer(tls, mqttSockets)]);
      await mqtt.close();
      for (const i of [...hub.registry.devices(), ...hub.registry.allModules()]) i.connectionState = 'Disconnected';
    },
    async up() {
      if (isUp) return;
      const refusals = mqtt.refusals;
      mqtt = await startMqtt(hub);
      mqtt.refusals.push(...refusals);
      await listen(https, httpsPort);
      await listen(tls, mqttPort);
      isUp = true;
    },
    get isUp() {
      return isUp;
    },
    hub,
    async stop() {
      await standin.down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return standin;
}
