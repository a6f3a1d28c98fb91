// The signed manifest of a bundle: who made it, when, which version, and for each entry how to turn
// a base image (by identity) into a target image from content-addressed parts. The schema is strict
// (unknown keys are refused) and every count and length is bounded, because a manifest is read
// from a USB stick or a satellite link before anything else is trusted.
import { z } from 'zod';
import { BundleError } from './errors.js';

/** Hard bounds: far above any real image, low enough that no declared value can exhaust a device. */
export const LIMITS = {
  manifestBytes: 1 << 20,
  entries: 64,
  layersPerImage: 256,
  parts: 1024,
  /** per part and per layer: 64 TiB, within Number.MAX_SAFE_INTEGER */
  bytes: 2 ** 46,
  text: 256,
} as const;

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'want sha256:<64 hex>');
const size = z.number().int().nonnegative().max(LIMITS.bytes);
const time = z.string().datetime({ offset: false });
const text = z.string().min(1).max(LIMITS.text).regex(/^[^\p{Cc}]*$/u, 'no control characters');

// Docker's reference grammar (distribution/reference), so a tag can be neither a path nor an option.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const HOST = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?/)?';
const REPO_TAG = new RegExp(`^${HOST}${COMPONENT}(?:/${COMPONENT})*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`);
export const repoTag = z.string().max(LIMITS.text).regex(REPO_TAG, 'want [host[:port]/]name:tag');

export function isRepoTag(s: string): boolean {
  return repoTag.safeParse(s).success;
}

const imageIdentity = z
  .object({
    configDigest: digest,
    diffIDs: z.array(digest).max(LIMITS.layersPerImage),
  })
  .strict();

const targetImage = z
  .object({
    configDigest: digest,
    /** every layer with its uncompressed size: the cap on what rebuilding it may produce */
    layers: z
      .array(z.object({ diffID: digest, size }).strict())
      .min(1)
      .max(LIMITS.layersPerImage),
    repoTag,
  })
  .strict();

const entry = z
  .object({
    /** null: the full image, for a device that has nothing to start from */
    base: imageIdentity.nullable(),
    target: targetImage,
    /** part holding the target's config JSON (its digest is the target's config digest) */
    config: digest,
    /** part holding the delta engine's patch from base to target */
    patch: digest,
  })
  .strict()
  .refine((e) => e.config === e.target.configDigest, { message: 'config part must be the target config', path: ['config'] });

const part = z.object({ digest, length: size }).strict();

export const manifestSchema = z
  .object({
    format: z.literal(1),
    /** sha256 of the entries and parts (see bundleIdInput): the same content has the same id */
    id: digest,
    /** strictly increasing per signer; a device refuses a version not above the last it applied */
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    created: time,
    expires: time.optional(),
    creator: text,
    /** sha256 of the signer's raw ed25519 public key */
    signer: digest,
    entries: z.array(entry).min(1).max(LIMITS.entries),
    /** in file order; each part is stored once even when several entries use it */
    parts: z.array(part).min(1).max(LIMITS.parts),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    let total = 0;
    for (const p of m.parts) {
      if (seen.has(p.digest)) ctx.addIssue({ code: 'custom', message: `part ${p.digest} listed twice` });
      seen.add(p.digest);
      total += p.length;
    }
    if (total > LIMITS.bytes) ctx.addIssue({ code: 'custom', message: `parts total ${total} bytes` });
    const used = new Set<string>();
    for (const e of m.entries) {
      for (const d of [e.config, e.patch]) {
        if (!seen.has(d)) ctx.addIssue({ code: 'custom', message: `entry uses part ${d} that the bundle does not list` });
        used.add(d);
      }
      if (e.target.layers.length > LIMITS.layersPerImage) ctx.addIssue({ code: 'custom', message: 'too many layers' });
    }
    for (const d of seen) if (!used.has(d)) ctx.addIssue({ code: 'custom', message: `part ${d} is not used by any entry` });
    if (m.expires !== undefined && m.expires <= m.created) ctx.addIssue({ code: 'custom', message: 'expires before it was created' });
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type BundleEntry = Manifest['entries'][number];
export type BundlePart = Manifest['parts'][number];
export type ImageIdentity = NonNullable<BundleEntry['base']>;
export type TargetImage = BundleEntry['target'];

/** Parses the (already signature-checked) manifest bytes; any deviation is a specific error. */
export function parseManifest(bytes: Uint8Array): Manifest {
  if (bytes.length > LIMITS.manifestBytes) throw new BundleError('too-large', `manifest of ${bytes.length} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new BundleError('malformed-manifest', `not UTF-8 JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BundleError('malformed-manifest', `${issue?.path.join('.') || 'manifest'}: ${issue?.message}`);
  }
  return parsed.data;
}

/** JSON with object keys sorted, so equal content always serialises to equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The bytes whose sha256 is the bundle id: what the bundle rebuilds, not when or by whom. */
export function bundleIdInput(m: Pick<Manifest, 'entries' | 'parts'>): string {
  return canonicalJson({ entries: m.entries, parts: m.parts });
}

export function encodeManifest(m: Manifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(m));
}

/** The entry that rebuilds a target from what the device has: a matching base, else a full image. */
export function entryFor(m: Manifest, have: ImageIdentity | null): BundleEntry {
  const same = (a: ImageIdentity, b: ImageIdentity) =>
    a.configDigest === b.configDigest && a.diffIDs.length === b.diffIDs.length && a.diffIDs.every((d, i) => d === b.diffIDs[i]);
  const match = have && m.entries.find((e) => e.base && same(e.base, have));
  const found = match ?? m.entries.find((e) => e.base === null);
  if (!found) {
    const wanted = m.entries.map((e) => e.base?.configDigest).join(', ');
    throw new BundleError('no-matching-base', `the bundle starts from ${wanted}, not from ${have ? have.configDigest : 'nothing'}`);
  }
  return found;
}
