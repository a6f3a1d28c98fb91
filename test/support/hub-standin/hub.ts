// The stand-in's hub: identities and twins, shared access policies, what devices sent and what
// the service applied. The REST and MQTT front ends (rest.ts, mqtt.ts) both work on this one state.
import { EventEmitter } from 'node:events';
import { etagOf, IdentityRegistry, mergePatch, type Identity, type Json, type JsonObject } from './registry.js';

export type Right = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';
export interface Policy {
  name: string;
  primaryKey: string;
  rights: Right[];
}

export interface D2cMessage {
  deviceId: string;
  moduleId?: string;
  body: Buffer;
  /** body as UTF-8 text */
  text: string;
  /** application and system properties carried in the topic (`$.ct`, `$.ce`, user properties) */
  properties: Record<string, string>;
  receivedAt: Date;
}

export interface AppliedConfiguration {
  deviceId: string;
  content: JsonObject;
  at: Date;
}

/** An IoT Hub-style refusal: HTTP status, error code, message. */
export class HubError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const MAX_TWIN_SECTION = 32 * 1024;
const MAX_VALUE = 4 * 1024;
const MAX_DEPTH = 10;

/** IoT Hub's twin limits: a section at most 32 KB, a string value at most 4 KB, at most 10 levels. */
function checkLimits(section: JsonObject, what: string): void {
  const size = Buffer.byteLength(JSON.stringify(section));
  if (size > MAX_TWIN_SECTION) throw new HubError(400, 'ArgumentInvalid', `${what} is ${size} bytes, over the 32 KB limit`);
  const walk = (v: Json, depth: number, path: string): void => {
    if (typeof v === 'string' && Buffer.byteLength(v) > MAX_VALUE) throw new HubError(400, 'ArgumentInvalid', `${what}.${path} is over 4 KB`);
    if (typeof v === 'object' && v !== null) {
      if (depth > MAX_DEPTH) throw new HubError(400, 'ArgumentInvalid', `${what}.${path} nests over ${MAX_DEPTH} levels`);
      for (const [k, x] of Object.entries(v)) walk(x, depth + 1, path ? `${path}.${k}` : k);
    }
  };
  walk(section, 1, '');
}

export class Hub extends EventEmitter {
  readonly registry = new IdentityRegistry();
  readonly policies = new Map<string, Policy>();
  readonly d2c: D2cMessage[] = [];
  readonly appliedConfigurations: AppliedConfiguration[] = [];
  /** host[:port] clients put in HostName; set once the HTTPS port is known */
  host = 'localhost';

  identity(deviceId: string, moduleId?: string): Identity {
    const i = this.registry.get(deviceId, moduleId);
    if (!i) {
      if (moduleId) throw new HubError(404, 'ModuleNotFound', `Module ${moduleId} on device ${deviceId} not found`);
      throw new HubError(404, 'DeviceNotFound', `Device ${deviceId} not found`);
    }
    return i;
  }

  /** A device (or module) patching its reported properties; returns the new reported $version. */
  patchReported(i: Identity, patch: JsonObject): number {
    const next = mergePatch(i.twin.reported, patch);
    checkLimits(next, 'properties.reported');
    i.twin.reported = next;
    i.twin.reportedVersion++;
    i.twin.version++;
    this.emit('reported', { deviceId: i.deviceId, moduleId: i.moduleId, patch });
    return i.twin.reportedVersion;
  }

  /** The service patching a twin's tags and desired properties, honouring If-Match. */
  patchTwin(i: Identity, patch: JsonObject, ifMatch: string | undefined, replace = false): void {
    const etag = (ifMatch ?? '*').replace(/^"|"$/g, '');
    if (etag !== '*' && etag !== etagOf(i.twin.version)) throw new HubError(412, 'PreconditionFailed', `Precondition failed: twin etag is not ${etag}`);
    const tags = patch.tags;
    const props = patch.properties;
    const desired = typeof props === 'object' && props !== null && !Array.isArray(props) ? props.desired : undefined;
    if (tags !== undefined) {
      if (typeof tags !== 'object' || Array.isArray(tags)) throw new HubError(400, 'ArgumentInvalid', 'tags must be an object');
      const next = replace ? mergePatch({}, tags ?? {}) : mergePatch(i.twin.tags, tags ?? {});
      checkLimits(next, 'tags');
      i.twin.tags = next;
    }
    if (desired !== undefined) {
      if (typeof desired !== 'object' || desired === null || Array.isArray(desired)) throw new HubError(400, 'ArgumentInvalid', 'properties.desired must be an object');
      const next = replace ? mergePatch({}, desired) : mergePatch(i.twin.desired, desired);
      checkLimits(next, 'properties.desired');
      i.twin.desired = next;
      i.twin.desiredVersion++;
      this.emit('desired', i, { ...desired, $version: i.twin.desiredVersion });
    }
    i.twin.version++;
  }

  /** applyConfigurationContent: the modules' desired properties become the content, as IoT Edge deployments do. */
  applyConfiguration(deviceId: string, content: JsonObject): void {
    const device = this.identity(deviceId);
    if (!device.iotEdge) throw new HubError(400, 'ArgumentInvalid', `Device ${deviceId} is not an IoT Edge device`);
    const modules = content.modulesContent ?? content.moduleContent;
    if (typeof modules !== 'object' || modules === null || Array.isArray(modules)) throw new HubError(400, 'ArgumentInvalid', 'modulesContent is required');
    for (const [moduleId, body] of Object.entries(modules)) {
      const desired = typeof body === 'object' && body !== null && !Array.isArray(body) ? body['properties.desired'] : undefined;
      if (typeof desired !== 'object' || desired === null || Array.isArray(desired)) throw new HubError(400, 'ArgumentInvalid', `modulesContent.${moduleId} has no properties.desired`);
    }
    for (const [moduleId, body] of Object.entries(modules)) {
      const desired = (body as JsonObject)['properties.desired'] as JsonObject;
      const m = this.registry.get(deviceId, moduleId) ?? this.registry.addModule(deviceId, moduleId, moduleId.startsWith('$') ? 'IotEdge' : undefined);
      this.patchTwin(m, { properties: { desired } }, '*', true);
    }
    this.appliedConfigurations.push({ deviceId, content: structuredClone(content), at: new Date() });
    this.emit('configuration', deviceId, content);
  }
}
