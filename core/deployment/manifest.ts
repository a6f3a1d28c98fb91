// IoT Edge deployment manifests (base deployments, $edgeAgent schema 1.0/1.1): parsing with specific
// errors, the images each module needs, and createOptions that may be split over createOptions01...
import { parseImageName, type ImageName } from './image-name.js';

export class ManifestError extends Error {
  override name = 'ManifestError';
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export interface ModuleImage {
  /** "edgeAgent", "edgeHub" or the module's name under modules */
  module: string;
  system: boolean;
  /** the image exactly as the manifest names it */
  image: string;
  name: ImageName;
}

export interface DeploymentManifest {
  /** the manifest as { modulesContent }, a deep copy of the input */
  content: { modulesContent: JsonObject };
  schemaVersion: string;
  modules: ModuleImage[];
}

const SCHEMA_VERSIONS = new Set(['1.0', '1.1']);
const CHUNK_KEY = /^createOptions(\d{2})?$/;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where the module specs live inside $edgeAgent's desired properties. */
export function agentDesired(content: { modulesContent: JsonObject }): JsonObject {
  const agent = content.modulesContent.$edgeAgent;
  const desired = isObject(agent) ? agent['properties.desired'] : undefined;
  if (!isObject(desired)) throw new ManifestError('manifest has no modulesContent.$edgeAgent["properties.desired"] object');
  return desired;
}

/**
 * Joins a module's createOptions chunks (createOptions, createOptions01, ...) in order. The edge
 * agent concatenates them the same way; a gap or a non-string chunk would make it fail on device.
 */
export function readCreateOptions(settings: JsonObject, where: string): string | undefined {
  const keys = Object.keys(settings).filter((k) => CHUNK_KEY.test(k));
  if (keys.length === 0) return undefined;
  if (!('createOptions' in settings)) throw new ManifestError(`${where}: has ${keys.sort()[0]} but no createOptions`);
  const first = settings.createOptions;
  if (isObject(first) && keys.length === 1) return JSON.stringify(first);
  const chunks: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = i === 0 ? 'createOptions' : `createOptions${String(i).padStart(2, '0')}`;
    const v = settings[key];
    if (v === undefined) throw new ManifestError(`${where}: createOptions chunks have a gap: ${key} is missing`);
    if (typeof v !== 'string') throw new ManifestError(`${where}.${key} must be a string`);
    chunks.push(v);
  }
  const joined = chunks.join('');
  if (joined.trim() === '') return joined;
  try {
    JSON.parse(joined);
  } catch (err) {
    throw new ManifestError(`${where}: createOptions is not valid JSON once its chunks are joined (${(err as Error).message})`);
  }
  return joined;
}

function moduleImage(module: string, system: boolean, spec: unknown, where: string): ModuleImage {
  if (!isObject(spec)) throw new ManifestError(`${where} must be an object`);
  const settings = spec.settings;
  if (!isObject(settings)) throw new ManifestError(`${where}.settings is missing`);
  const image = settings.image;
  if (typeof image !== 'string' || image === '') throw new ManifestError(`${where}.settings.image is missing`);
  let name: ImageName;
  try {
    name = parseImageName(image);
  } catch (err) {
    throw new ManifestError(`${where}.settings.image: ${(err as Error).message}`);
  }
  readCreateOptions(settings, `${where}.settings`);
  return { module, system, image, name };
}

export function parseManifest(text: string): DeploymentManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`manifest is not valid JSON: ${(err as Error).message}`);
  }
  // `az iot edge deployment create` accepts both {modulesContent} and {content: {modulesContent}}.
  const modulesContent = isObject(doc) ? (isObject(doc.content) ? doc.content.modulesContent : doc.modulesContent) : undefined;
  if (!isObject(modulesContent)) {
    throw new ManifestError('manifest has no modulesContent object (expected {"modulesContent": {...}} or {"content": {"modulesContent": {...}}})');
  }
  // doc was parsed just above and nothing else holds it: no copy needed.
  const content = { modulesContent };
  const agent = content.modulesContent.$edgeAgent;
  if (isObject(agent) && Object.keys(agent).some((k) => k.startsWith('properties.desired.'))) {
    throw new ManifestError('layered deployments (properties.desired.<path> keys) are not supported; give a base deployment manifest');
  }
  const desired = agentDesired(content);
  const schemaVersion = desired.schemaVersion;
  if (typeof schemaVersion !== 'string' || !SCHEMA_VERSIONS.has(schemaVersion)) {
    throw new ManifestError(`$edgeAgent schemaVersion ${JSON.stringify(schemaVersion)} is not supported (want "1.0" or "1.1")`);
  }
  if (!isObject(content.modulesContent.$edgeHub)) throw new ManifestError('manifest has no modulesContent.$edgeHub');
  const system = desired.systemModules;
  if (!isObject(system)) throw new ManifestError('$edgeAgent desired properties have no systemModules');
  const modules: ModuleImage[] = [];
  for (const m of ['edgeAgent', 'edgeHub']) modules.push(moduleImage(m, true, system[m], `systemModules.${m}`));
  const custom = desired.modules ?? {};
  if (!isObject(custom)) throw new ManifestError('$edgeAgent desired modules must be an object');
  for (const [m, spec] of Object.entries(custom)) modules.push(moduleImage(m, false, spec, `modules.${m}`));
  return { content, schemaVersion, modules };
}
