// The link to IoT Hub through the real device SDK over MQTT: ModuleClient.fromEnvironment inside
// IoT Edge, or a module or device connection string outside it. The SDK's own retry is switched
// off (NoRetry): the module keeps reports in its outbox and decides itself when to try again, so
// an offline device never has an operation hanging for minutes. Secrets (keys, SAS tokens) never
// reach a log: every error message from here goes through redact().
//
// The SDKs are CommonJS and large: they are loaded on first connect only (a device without a hub,
// and `restore`/`prune`, never pay for them).
import type { Client, ModuleClient, Twin } from 'azure-iot-device';
import type { D2cMessage } from '../core/edge/report.js';

async function sdk() {
  const [common, device, mqtt] = await Promise.all([import('azure-iot-common'), import('azure-iot-device'), import('azure-iot-device-mqtt')]);
  return { NoRetry: common.default.NoRetry, Client: device.default.Client, ModuleClient: device.default.ModuleClient, Message: device.default.Message, Mqtt: mqtt.default.Mqtt };
}

/** The key=value fields of a connection string (the SDK's own parser needs the SDK loaded). */
function fields(connectionString: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of connectionString.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1);
  }
  return out;
}

export type HubConfig = { kind: 'environment' } | { kind: 'connection-string'; connectionString: string; ca?: string };

export interface HubLink {
  readonly deviceId: string;
  readonly moduleId: string | undefined;
  sendEvent(m: D2cMessage): Promise<void>;
  report(patch: Record<string, unknown>): Promise<void>;
  /** called once when the connection is lost */
  onDisconnect(fn: () => void): void;
  close(): Promise<void>;
}

/** Removes keys and SAS signatures from a message before it is printed. */
export function redact(text: string): string {
  return text
    .replace(/(SharedAccessKey\s*=\s*)[^;\s"']+/gi, '$1***')
    .replace(/(SharedAccessSignature\s*=\s*)[^;"']+/gi, '$1***')
    .replace(/(sig=)[^&\s"']+/gi, '$1***');
}

function fail(what: string, err: unknown): Error {
  return new Error(`${what}: ${redact(err instanceof Error ? err.message : String(err))}`);
}

/** Which device and module a connection string names (nothing secret). */
export function identityOf(connectionString: string): { deviceId: string; moduleId: string | undefined } {
  const cs = fields(connectionString);
  if (!cs.HostName || !cs.DeviceId) throw new Error('the hub connection string names no HostName or DeviceId');
  if (!cs.SharedAccessKey && !cs.SharedAccessSignature && cs.x509 !== 'true') throw new Error('the hub connection string has no SharedAccessKey, SharedAccessSignature or x509=true');
  return { deviceId: cs.DeviceId!, moduleId: cs.ModuleId };
}

export async function connectHub(config: HubConfig): Promise<HubLink> {
  const { NoRetry, Client, ModuleClient, Message, Mqtt } = await sdk();
  let client: Client | ModuleClient;
  let deviceId: string;
  let moduleId: string | undefined;
  if (config.kind === 'environment') {
    client = await ModuleClient.fromEnvironment(Mqtt).catch((err: unknown) => {
      throw fail('cannot make a module client from the IoT Edge environment', err);
    });
    deviceId = process.env.IOTEDGE_DEVICEID ?? 'unknown';
    moduleId = process.env.IOTEDGE_MODULEID;
  } else {
    ({ deviceId, moduleId } = identityOf(config.connectionString));
    client = moduleId ? ModuleClient.fromConnectionString(config.connectionString, Mqtt) : Client.fromConnectionString(config.connectionString, Mqtt);
    if (config.ca) await client.setOptions({ ca: config.ca });
  }
  client.setRetryPolicy(new NoRetry());
  let twin: Twin;
  try {
    await client.open();
    twin = await client.getTwin();
  } catch (err) {
    await client.close().catch(() => undefined);
    throw fail('cannot connect to IoT Hub', err);
  }
  let disconnected: (() => void) | undefined;
  let gone = false;
  const lost = () => {
    if (gone) return;
    gone = true;
    disconnected?.();
  };
  client.on('disconnect', lost);
  client.on('error', lost);
  return {
    deviceId,
    moduleId,
    async sendEvent(m) {
      const msg = new Message(JSON.stringify(m));
      msg.messageId = `${m.deviceId}/${m.moduleId}/${m.seq}`;
      msg.contentType = 'application/json';
      msg.contentEncoding = 'utf-8';
      msg.properties.add('lighter-type', m.type);
      await client.sendEvent(msg).catch((err: unknown) => {
        lost();
        throw fail('sending a D2C message failed', err);
      });
    },
    report(patch) {
      return new Promise((resolve, reject) =>
        twin.properties.reported.update(patch, (err?: Error) => {
          if (!err) return resolve();
          lost();
          reject(fail('updating the reported properties failed', err));
        }),
      );
    },
    onDisconnect(fn) {
      disconnected = fn;
      if (gone) fn();
    },
    async close() {
      gone = true;
      client.removeAllListeners();
      await client.close().catch(() => undefined);
    },
  };
}
