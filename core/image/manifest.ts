// Docker v2 schema 2 and OCI manifests, indexes (manifest lists) and image configs: parsed and
// validated from their exact bytes with errors that say what is wrong, and produced for writing.
import { z } from 'zod';
import { DEFAULT_PLATFORM, formatPlatform, isDigest, type Descriptor, type Platform } from './descriptor.js';
import { MediaType, layerFamily, layerMediaType, layerCompression, type FormatFamily } from './media-types.js';

const digest = z.string().refine(isDigest, 'not a sha256:<64 hex> digest');
const platform = z.object({ os: z.string(), architecture: z.string(), variant: z.string().optional() }).passthrough();
const descriptor = z
  .object({
    mediaType: z.string(),
    digest,
    size: z.number().int().nonnegative(),
    annotations: z.record(z.string()).optional(),
    platform: platform.optional(),
    urls: z.array(z.string()).optional(),
  })
  .passthrough();

const manifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: descriptor,
  layers: z.array(descriptor),
});
const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(descriptor),
});
const configSchema = z
  .object({
    architecture: z.string().optional(),
    os: z.string().optional(),
    variant: z.string().optional(),
    rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest) }),
  })
  .passthrough();

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}
export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}
export interface ImageConfig {
  diffIDs: string[];
  platform: Platform;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses JSON bytes; `what` names the document in errors. */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new Error(`${what} is not valid UTF-8`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new Error(`${what} is invalid: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
}

const strip = (d: z.infer<typeof descriptor>): Descriptor => {
  const out: Descriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.annotations) out.annotations = d.annotations;
  if (d.platform) out.platform = { os: d.platform.os, architecture: d.platform.architecture, ...(d.platform.variant ? { variant: d.platform.variant } : {}) };
  if (d.urls) out.urls = d.urls;
  return out;
};

/**
 * Parses a manifest or an index. `contentType` is what the server or layout said it is; the
 * document's own mediaType field wins when present (OCI allows it to be absent).
 */
export function parseManifestOrIndex(bytes: Uint8Array, contentType?: string, what = 'manifest'): ImageManifest | ImageIndex {
  const json = parseJson(bytes, what) as { mediaType?: unknown; manifests?: unknown };
  const declared = typeof json?.mediaType === 'string' ? json.mediaType : undefined;
  const type = declared ?? (contentType && contentType !== 'application/json' ? contentType : undefined);
  const isIndex = type === MediaType.ociIndex || type === MediaType.dockerManifestList || (type === undefined && Array.isArray(json?.manifests));
  if (isIndex) {
    const ix = validate(indexSchema, json, what);
    return { kind: 'index', mediaType: type ?? MediaType.ociIndex, manifests: ix.manifests.map(strip) };
  }
  if (type === 'application/vnd.docker.distribution.manifest.v1+json' || type === 'application/vnd.docker.distribution.manifest.v1+prettyjws') {
    throw new Error(`${what} uses Docker schema 1, which is not supported (push the image again with a current Docker)`);
  }
  if (type !== undefined && type !== MediaType.dockerManifest && type !== MediaType.ociManifest) {
    throw new Error(`${what} has unsupported media type ${JSON.stringify(type)}`);
  }
  const m = validate(manifestSchema, json, what);
  for (const [i, l] of m.layers.entries()) {
    try {
      layerCompression(l.mediaType);
    } catch (err) {
      throw new Error(`${what} layer ${i}: ${(err as Error).message}`);
    }
  }
  return { kind: 'manifest', mediaType: type ?? MediaType.ociManifest, config: strip(m.config), layers: m.layers.map(strip) };
}

export function parseConfig(bytes: Uint8Array, what = 'image config'): ImageConfig {
  const c = validate(configSchema, parseJson(bytes, what), what);
  const p: Platform = { os: c.os ?? DEFAULT_PLATFORM.os, architecture: c.architecture ?? DEFAULT_PLATFORM.architecture };
  if (c.variant) p.variant = c.variant;
  return { diffIDs: c.rootfs.diff_ids, platform: p };
}

/** Picks the manifest for `want` from an index; variant is compared only when requested. */
export function selectPlatform(index: ImageIndex, want: Platform = DEFAULT_PLATFORM): Descriptor {
  const manifests = index.manifests.filter((d) => d.mediaType === MediaType.dockerManifest || d.mediaType === MediaType.ociManifest);
  const match = manifests.find(
    (d) => d.platform && d.platform.os === want.os && d.platform.architecture === want.architecture && (!want.variant || d.platform.variant === want.variant),
  );
  if (match) return match;
  const available = manifests.map((d) => (d.platform ? formatPlatform(d.platform) : 'unknown')).join(', ');
  throw new Error(`no image for platform ${formatPlatform(want)} in the index (available: ${available || 'none'})`);
}

/** The format family a set of layers needs: OCI as soon as one layer is OCI-only (e.g. zstd). */
export function familyFor(layers: Descriptor[]): FormatFamily {
  return layers.some((l) => layerFamily(l.mediaType) === 'oci') ? 'oci' : 'docker';
}

/** Produces a manifest of `family` (layer media types relabelled to it, bytes unchanged). */
export function buildManifest(
  family: FormatFamily,
  config: { digest: string; size: number },
  layers: Descriptor[],
): { bytes: Uint8Array; mediaType: string } {
  const mediaType = family === 'docker' ? MediaType.dockerManifest : MediaType.ociManifest;
  const doc = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: family === 'docker' ? MediaType.dockerConfig : MediaType.ociConfig, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: layerMediaType(family, layerCompression(l.mediaType)), digest: l.digest, size: l.size })),
  };
  return { bytes: new TextEncoder().encode(JSON.stringify(doc)), mediaType };
}
