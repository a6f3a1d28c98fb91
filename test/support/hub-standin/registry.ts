// The stand-in's identity registry and twins: devices and module identities with their keys, and
// one twin each (tags, desired and reported properties, versions, ETag) kept as IoT Hub keeps them.
import { randomBytes } from 'node:crypto';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface TwinState {
  tags: JsonObject;
  desired: JsonObject;
  desiredVersion: number;
  reported: JsonObject;
  reportedVersion: number;
  /** bumps on every change of the twin, as IoT Hub's twin `version` */
  version: number;
}

export interface Identity {
  deviceId: string;
  moduleId?: string;
  primaryKey: string;
  secondaryKey: string;
  status: 'enabled' | 'disabled';
  iotEdge: boolean;
  managedBy?: string;
  generationId: string;
  /** device etag (the identity, not the twin) */
  etagVersion: number;
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  twin: TwinState;
}

/** What `az iot hub device-identity list` prints per device (the fields the stand-in keeps). */
export interface DeviceDefinition {
  deviceId: string;
  tags?: JsonObject | null;
  capabilities?: { iotEdge?: boolean } | null;
  status?: 'enabled' | 'disabled';
  authentication?: { symmetricKey?: { primaryKey?: string | null; secondaryKey?: string | null } | null } | null;
  properties?: { desired?: JsonObject; reported?: JsonObject } | null;
  /** stand-in extension: module identities to create with the device */
  modules?: string[];
}

const NEVER = '0001-01-01T00:00:00Z';
export const newKey = (): string => randomBytes(32).toString('base64');
export const etagOf = (version: number): string => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(version));
  return b.toString('base64');
};

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON merge patch as twins apply it: null deletes, objects merge, anything else replaces. */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else if (isObject(v)) out[k] = mergePatch(isObject(out[k]) ? out[k] : {}, v);
    else out[k] = v;
  }
  return out;
}

const stripMeta = (o: JsonObject | undefined | null): JsonObject => mergePatch({}, o ?? {});

export class IdentityRegistry {
  private readonly identities = new Map<string, Identity>();

  private static key(deviceId: string, moduleId?: string): string {
    return moduleId ? `${deviceId}/${moduleId}` : deviceId;
  }

  get(deviceId: string, moduleId?: string): Identity | undefined {
    return this.identities.get(IdentityRegistry.key(deviceId, moduleId));
  }

  devices(): Identity[] {
    return [...this.identities.values()].filter((i) => !i.moduleId);
  }

  modulesOf(deviceId: string): Identity[] {
    return [...this.identities.values()].filter((i) => i.moduleId && i.deviceId === deviceId);
  }

  allModules(): Identity[] {
    return [...this.identities.values()].filter((i) => i.moduleId);
  }

  addDevice(def: DeviceDefinition): Identity {
    const iotEdge = def.capabilities?.iotEdge === true;
    const id = this.put({
      deviceId: def.deviceId,
      primaryKey: def.authentication?.symmetricKey?.primaryKey || newKey(),
      secondaryKey: def.authentication?.symmetricKey?.secondaryKey || newKey(),
      status: def.status ?? 'enabled',
      iotEdge,
      twin: { tags: stripMeta(def.tags), desired: stripMeta(def.properties?.desired), desiredVersion: 1, reported: stripMeta(def.properties?.reported), reportedVersion: 1, version: 1 },
    });
    // IoT Hub makes the runtime's two module identities with every Edge device.
    if (iotEdge) for (const m of ['$edgeAgent', '$edgeHub']) this.addModule(def.deviceId, m, 'IotEdge');
    for (const m of def.modules ?? []) this.addModule(def.deviceId, m);
    return id;
  }

  addModule(deviceId: string, moduleId: string, managedBy?: string, keys?: { primaryKey?: string; secondaryKey?: string }): Identity {
    if (!this.get(deviceId)) throw new Error(`device ${deviceId} not found`);
    return this.put({
      deviceId,
      moduleId,
      primaryKey: keys?.primaryKey || newKey(),
      secondaryKey: keys?.secondaryKey || newKey(),
      status: 'enabled',
      iotEdge: false,
      ...(managedBy ? { managedBy } : {}),
      twin: { tags: {}, desired: {}, desiredVersion: 1, reported: {}, reportedVersion: 1, version: 1 },
    });
  }

  remove(deviceId: string, moduleId?: string): boolean {
    if (!moduleId) for (const m of this.modulesOf(deviceId)) this.identities.delete(IdentityRegistry.key(deviceId, m.moduleId));
    return this.identities.delete(IdentityRegistry.key(deviceId, moduleId));
  }

  private put(i: Omit<Identity, 'generationId' | 'etagVersion' | 'connectionState' | 'connectionStateUpdatedTime' | 'lastActivityTime'>): Identity {
    const full: Identity = {
      ...i,
      generationId: String(Date.now()) + randomBytes(3).readUIntBE(0, 3),
      etagVersion: 1,
      connectionState: 'Disconnected',
      connectionStateUpdatedTime: NEVER,
      lastActivityTime: NEVER,
    };
    this.identities.set(IdentityRegistry.key(i.deviceId, i.moduleId), full);
    return full;
  }
}

/** The device (or module) identity as the registry REST API returns it. */
export function identityJson(i: Identity): JsonObject {
  return {
    deviceId: i.deviceId,
    ...(i.moduleId ? { moduleId: i.moduleId } : {}),
    ...(i.managedBy ? { managedBy: i.managedBy } : {}),
    generationId: i.generationId,
    etag: etagOf(i.etagVersion),
    connectionState: i.connectionState,
    status: i.status,
    statusReason: null,
    connectionStateUpdatedTime: i.connectionStateUpdatedTime,
    statusUpdatedTime: NEVER,
    lastActivityTime: i.lastActivityTime,
    cloudToDeviceMessageCount: 0,
    authentication: { symmetricKey: { primaryKey: i.primaryKey, secondaryKey: i.secondaryKey }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null }, type: 'sas' },
    ...(i.moduleId ? {} : { capabilities: { iotEdge: i.iotEdge } }),
  };
}

/** The twin as the service API and queries return it. */
export function twinJson(i: Identity): JsonObject {
  const t = i.twin;
  return {
    deviceId: i.deviceId,
    ...(i.moduleId ? { moduleId: i.moduleId } : {}),
    etag: etagOf(t.version),
    deviceEtag: etagOf(i.etagVersion),
    status: i.status,
    statusUpdateTime: NEVER,
    connectionState: i.connectionState,
    lastActivityTime: i.lastActivityTime,
    cloudToDeviceMessageCount: 0,
    authenticationType: 'sas',
    x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    modelId: '',
    version: t.version,
    tags: t.tags,
    properties: {
      desired: { ...t.desired, $version: t.desiredVersion },
      reported: { ...t.reported, $version: t.reportedVersion },
    },
    ...(i.moduleId ? {} : { capabilities: { iotEdge: i.iotEdge } }),
  };
}
