// The manifest as one device must receive it: every image pulled from the device's own registry
// (where Lighter's edge module pushes the rebuilt images), never from the internet, and createOptions
// re-split into chunks IoT Hub accepts.
import { agentDesired, isObject, readCreateOptions, type DeploymentManifest, type JsonObject } from './manifest.js';
import type { ImageName } from './image-name.js';
import { IOT_HUB_LIMITS, utf8Length } from './lint.js';

export interface RewriteOptions {
  /** host[:port] of the device's local registry, e.g. "localhost:5000" */
  localRegistry: string;
  /** longest createOptions chunk in UTF-8 bytes (IoT Hub's string value limit by default) */
  chunkBytes?: number;
}

export interface RewrittenImage {
  module: string;
  from: string;
  to: string;
}

export function localImageName(n: ImageName, localRegistry: string): string {
  // A tag survives the push to the local registry; a manifest digest only when there is no tag.
  return `${localRegistry}/${n.path}${n.tag ? `:${n.tag}` : `@${n.digest}`}`;
}

/** Splits `s` into pieces of at most `maxBytes` UTF-8 bytes without cutting a character. */
export function splitUtf8(s: string, maxBytes: number): string[] {
  if (maxBytes < 4) throw new Error('chunk size must be at least 4 bytes');
  const out: string[] = [];
  let cur = '';
  let bytes = 0;
  for (const ch of s) {
    const n = utf8Length(ch);
    if (bytes + n > maxBytes) {
      out.push(cur);
      cur = '';
      bytes = 0;
    }
    cur += ch;
    bytes += n;
  }
  out.push(cur);
  return out;
}

function rewriteCreateOptions(settings: JsonObject, where: string, chunkBytes: number): void {
  const joined = readCreateOptions(settings, where);
  if (joined === undefined) return;
  for (const k of Object.keys(settings)) if (/^createOptions(\d{2})?$/.test(k)) delete settings[k];
  splitUtf8(joined, chunkBytes).forEach((chunk, i) => {
    settings[i === 0 ? 'createOptions' : `createOptions${String(i).padStart(2, '0')}`] = chunk;
  });
}

export function rewriteForDevice(m: DeploymentManifest, options: RewriteOptions): { content: { modulesContent: JsonObject }; images: RewrittenImage[] } {
  const chunkBytes = options.chunkBytes ?? IOT_HUB_LIMITS.valueBytes;
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(options.localRegistry)) {
    throw new Error(`invalid local registry ${JSON.stringify(options.localRegistry)} (want host[:port], e.g. localhost:5000)`);
  }
  const content = { modulesContent: structuredClone(m.content.modulesContent) };
  const desired = agentDesired(content);
  const images: RewrittenImage[] = [];
  for (const mod of m.modules) {
    const group = desired[mod.system ? 'systemModules' : 'modules'] as JsonObject;
    const spec = group[mod.module] as JsonObject;
    const settings = spec.settings as JsonObject;
    const to = localImageName(mod.name, options.localRegistry);
    settings.image = to;
    images.push({ module: mod.module, from: mod.image, to });
    // edgeAgent has no pull policy: the runtime starts it from the image already on the device.
    if (mod.module !== 'edgeAgent' || !mod.system) spec.imagePullPolicy = 'never';
    rewriteCreateOptions(settings, `${mod.system ? 'systemModules' : 'modules'}.${mod.module}.settings`, chunkBytes);
  }
  // Credentials for the original registries are useless on a device that pulls nothing.
  const runtime = desired.runtime;
  if (isObject(runtime) && isObject(runtime.settings)) delete runtime.settings.registryCredentials;
  return { content, images };
}
