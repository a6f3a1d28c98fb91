// The manifest.json of a `docker save` archive (both the legacy layout and the OCI-layout form
// Docker 25+ writes) and the OCI layout's index.json: parsed, validated and produced.
import { z } from 'zod';
import { isDigest, type Descriptor } from './descriptor.js';
import { MediaType } from './media-types.js';
import { parseJson, validate } from './manifest.js';
import { familiarTag, parseDockerName } from './reference.js';

const archiveEntry = z.object({
  Config: z.string().min(1),
  RepoTags: z.array(z.string()).nullable().optional(),
  Layers: z.array(z.string().min(1)),
  LayerSources: z.record(z.unknown()).optional(),
});

export interface ArchiveImage {
  config: string;
  repoTags: string[];
  layers: string[];
}

export function parseArchiveManifest(bytes: Uint8Array): ArchiveImage[] {
  const list = validate(z.array(archiveEntry).min(1, 'lists no images'), parseJson(bytes, 'manifest.json'), 'manifest.json');
  return list.map((e) => ({ config: e.Config, repoTags: e.RepoTags ?? [], layers: e.Layers }));
}

function normaliseTag(t: string): string {
  try {
    return familiarTag(parseDockerName(t));
  } catch {
    return t;
  }
}

/** Picks the image for `tag` ("name:tag"), or the only image when no tag is asked for. */
export function selectArchiveImage(images: ArchiveImage[], tag?: string): ArchiveImage {
  if (tag) {
    // skopeo records docker.io/name:tag, docker records name:tag: compare normalised names
    const want = normaliseTag(tag);
    const img = images.find((i) => i.repoTags.some((t) => normaliseTag(t) === want));
    if (!img) throw new Error(`archive has no image tagged ${tag} (tags: ${images.flatMap((i) => i.repoTags).join(', ') || 'none'})`);
    return img;
  }
  if (images.length > 1) throw new Error(`archive holds ${images.length} images; name one with :name:tag`);
  return images[0]!;
}

/** manifest.json and the legacy `repositories` file for one image. */
export function buildArchiveManifest(image: ArchiveImage): { manifest: string; repositories: string | undefined } {
  const manifest = JSON.stringify([{ Config: image.config, RepoTags: image.repoTags.length ? image.repoTags : null, Layers: image.layers }]);
  if (!image.repoTags.length) return { manifest, repositories: undefined };
  // `repositories` maps name -> tag -> top layer ID; docker load only uses it for images without RepoTags.
  const top = image.layers[image.layers.length - 1]?.replace(/(\/layer)?\.tar$/, '').replace(/^blobs\/sha256\//, '') ?? '';
  const repos: Record<string, Record<string, string>> = {};
  for (const t of image.repoTags) {
    const i = t.lastIndexOf(':');
    (repos[t.slice(0, i)] ??= {})[t.slice(i + 1)] = top;
  }
  return { manifest, repositories: JSON.stringify(repos) };
}

export const REF_NAME = 'org.opencontainers.image.ref.name';

const indexJson = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(
    z.object({ mediaType: z.string(), digest: z.string().refine(isDigest, 'not a sha256 digest'), size: z.number().int().nonnegative(), annotations: z.record(z.string()).optional() }).passthrough(),
  ),
});

export function parseOciIndex(bytes: Uint8Array, what = 'index.json'): Descriptor[] {
  return validate(indexJson, parseJson(bytes, what), what).manifests as Descriptor[];
}

/** Picks the manifest tagged `tag`, or the only one when no tag is asked for. */
export function selectOciManifest(manifests: Descriptor[], tag: string | undefined, what: string): Descriptor {
  if (tag) {
    const d = manifests.find((m) => m.annotations?.[REF_NAME] === tag);
    if (!d) throw new Error(`${what} has no image tagged ${JSON.stringify(tag)}`);
    return d;
  }
  if (manifests.length !== 1) throw new Error(`${what} holds ${manifests.length} images; name one with :tag`);
  return manifests[0]!;
}

/** index.json with `entry` added, replacing any manifest that had the same tag. */
export function buildOciIndex(existing: Descriptor[], entry: Descriptor): string {
  const tag = entry.annotations?.[REF_NAME];
  const kept = existing.filter((m) => (tag ? m.annotations?.[REF_NAME] !== tag : m.digest !== entry.digest));
  return JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...kept, entry] });
}

export const OCI_LAYOUT_FILE = JSON.stringify({ imageLayoutVersion: '1.0.0' });
