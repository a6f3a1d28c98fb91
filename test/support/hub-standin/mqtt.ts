// The MQTT 3.1.1 side of the stand-in, for `azure-iot-device` + `azure-iot-device-mqtt`: an aedes
// broker whose hooks play IoT Hub. CONNECT is checked as IoT Hub does (client id `device` or
// `device/module`, username `<host>/<client id>/?api-version=...`, password a SAS token signed with
// the identity's key; refused with CONNACK 5, not authorized). Twin requests published on
// `$iothub/twin/GET` and `$iothub/twin/PATCH/properties/reported` are answered on
// `$iothub/twin/res/<status>/?$rid=..` to the asking client only; desired patches go to the
// identity's clients on `$iothub/twin/PATCH/properties/desired/?$version=..`; telemetry on
// `devices/<id>[/modules/<mid>]/messages/events/` is recorded; C2D goes out on
// `devices/<id>/messages/devicebound/`.
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import { Hub, HubError, type D2cMessage } from './hub.js';
import type { Identity, JsonObject } from './registry.js';
import { checkSas, parseSas } from './sas.js';

type ConnackError = Error & { returnCode: number };
const refuse = (why: string): ConnackError => Object.assign(new Error(why), { returnCode: 5 });

const qs = (s: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const part of s.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    try {
      out[decodeURIComponent(k)] = decodeURIComponent(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
};

export interface MqttFront {
  broker: Aedes;
  /** why each refused CONNECT was refused, for tests that check a wrong key */
  refusals: { clientId: string; reason: string }[];
  sendC2D(deviceId: string, body: string | Buffer, properties?: Record<string, string>): Promise<void>;
  close(): Promise<void>;
}

export async function startMqtt(hub: Hub): Promise<MqttFront> {
  const who = new WeakMap<Client, Identity>();
  const clients = new Set<Client>();
  const refusals: MqttFront['refusals'] = [];

  const reply = (client: Client, topic: string, body: unknown) => {
    const payload = Buffer.from(body === undefined ? '' : JSON.stringify(body));
    client.publish({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false } as AedesPublishPacket, () => {});
  };

  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const [deviceId, moduleId, extra] = (client.id ?? '').split('/');
      const fail = (why: string) => {
        refusals.push({ clientId: client.id ?? '', reason: why });
        done(refuse(why), false);
      };
      if (!deviceId || extra !== undefined) return fail('client id must be <device> or <device>/<module>');
      const identity = hub.registry.get(deviceId, moduleId);
      if (!identity) return fail(`no identity ${client.id}`);
      if (identity.status !== 'enabled') return fail(`${client.id} is disabled`);
      if (!(username ?? '').startsWith(`${hub.host}/${client.id}/`)) return fail(`username must start with ${hub.host}/${client.id}/`);
      const token = parseSas(password?.toString('utf8'));
      const resource = `${hub.host}/devices/${deviceId}${moduleId ? `/modules/${moduleId}` : ''}`;
      const why = checkSas(token, resource, [identity.primaryKey, identity.secondaryKey]);
      if (why) return fail(why);
      who.set(client, identity);
      done(null, true);
    },
    authorizeSubscribe(client, sub, done) {
      const i = who.get(client);
      const own = i ? `devices/${i.deviceId}${i.moduleId ? `/modules/${i.moduleId}` : ''}` : '';
      const allowed = ['$iothub/twin/res/#', '$iothub/twin/PATCH/properties/desired/#', '$iothub/methods/POST/#',
        i && !i.moduleId ? `${own}/messages/devicebound/#` : `${own}/inputs/#`];
      done(null, i && allowed.includes(sub.topic) ? sub : null);
    },
    authorizePublish(client, packet, done) {
      const i = client ? who.get(client) : undefined;
      if (!client || !i) return done(new Error('not connected'));
      i.lastActivityTime = new Date().toISOString();
      const topic = packet.topic;
      const twin = /^\$iothub\/twin\/(GET|PATCH\/properties\/reported)\/\?(.*)$/.exec(topic);
      if (twin) {
        const rid = qs(twin[2] ?? '').$rid ?? '';
        if (twin[1] === 'GET') {
          const t = i.twin;
          reply(client, `$iothub/twin/res/200/?$rid=${rid}`, { desired: { ...t.desired, $version: t.desiredVersion }, reported: { ...t.reported, $version: t.reportedVersion } });
        } else {
          try {
            const patch = JSON.parse(packet.payload.toString('utf8')) as unknown;
            if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new HubError(400, 'ArgumentInvalid', 'reported patch must be a JSON object');
            const version = hub.patchReported(i, patch as JsonObject);
            reply(client, `$iothub/twin/res/204/?$rid=${rid}&$version=${version}`, undefined);
          } catch (e) {
            const status = e instanceof HubError ? e.status : 400;
            reply(client, `$iothub/twin/res/${status}/?$rid=${rid}`, { errorCode: status, message: (e as Error).message });
          }
        }
        return done(null);
      }
      const own = `devices/${i.deviceId}${i.moduleId ? `/modules/${i.moduleId}` : ''}/messages/events/`;
      if (topic.startsWith(own)) {
        const msg: D2cMessage = {
          deviceId: i.deviceId,
          ...(i.moduleId ? { moduleId: i.moduleId } : {}),
          body: Buffer.from(packet.payload),
          text: Buffer.from(packet.payload).toString('utf8'),
          properties: qs(topic.slice(own.length)),
          receivedAt: new Date(),
        };
        hub.d2c.push(msg);
        hub.emit('d2c', msg);
        return done(null);
      }
      if (topic.startsWith('$iothub/methods/res/')) return done(null);
      // IoT Hub drops the connection of a client publishing where it may not.
      return done(new Error(`${client.id} may not publish to ${topic}`));
    },
  });

  broker.on('clientReady', (client) => {
    const i = who.get(client);
    clients.add(client);
    if (i) {
      i.connectionState = 'Connected';
      i.connectionStateUpdatedTime = new Date().toISOString();
    }
  });
  broker.on('clientDisconnect', (client) => {
    clients.delete(client);
    const i = who.get(client);
    if (i && ![...clients].some((c) => who.get(c) === i)) {
      i.connectionState = 'Disconnected';
      i.connectionStateUpdatedTime = new Date().toISOString();
    }
  });
  const onDesired = (i: Identity, patch: JsonObject) => {
    for (const c of clients) {
      if (who.get(c) === i && (c as Client & { subscriptions?: Record<string, unknown> }).subscriptions?.['$iothub/twin/PATCH/properties/desired/#']) reply(c, `$iothub/twin/PATCH/properties/desired/?$version=${String(patch.$version)}`, patch);
    }
  };
  hub.on('desired', onDesired);

  return {
    broker,
    refusals,
    sendC2D(deviceId, body, properties = {}) {
      hub.identity(deviceId);
      const props = Object.entries(properties).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
      return new Promise((resolve, reject) => broker.publish({ cmd: 'publish', topic: `devices/${deviceId}/messages/devicebound/${props}`, payload: Buffer.from(body), qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())));
    },
    close() {
      hub.off('desired', onDesired);
      return new Promise((resolve) => broker.close(() => resolve()));
    },
  };
}
