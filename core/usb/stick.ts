// The USB stick format (docs/usb.md): `lighter/index.json`, signed with the bundle key, says which
// bundles each device needs in which order, and where every file of the set is (this stick or
// another: each stick describes the whole set); `lighter/bundles/` holds the files, named by the
// bundle's sha256 (a bundle too large for one file or one stick is cut into pieces);
// `receipts/` is where whoever applied writes receipts. Pure: hashing and signing come in.
import { z } from 'zod';
import { canonicalJson, repoTag } from '../bundle/manifest.js';
import { CodedError } from '../errors.js';

export const STICK_FORMAT = 1;
/** Prefix of the signed bytes: an index signature can never be mistaken for a bundle's or a receipt's. */
export const INDEX_DOMAIN = 'lighter-usb-index-v1\n';
export const INDEX_FILE = 'lighter/index.json';
export const BUNDLES_DIR = 'lighter/bundles';
export const RECEIPTS_DIR = 'receipts';
export const MAX_INDEX_BYTES = 4 << 20;
/** FAT32 cannot hold a file of 4 GiB or more. */
export const FAT32_FILE_LIMIT = 2 ** 32 - 1;
/** Room kept free on every stick for its index and the receipts that come back on it. */
export const STICK_RESERVE = 1 << 20;

const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'want sha256:<64 hex>');
const hubId = z.string().min(1).max(128).regex(/^[A-Za-z0-9\-.+%_#*?!(),:=@$']+$/, 'not an IoT Hub id');
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const PIECE_NAME = /^[0-9a-f]{64}\.bundle(\.[0-9]{1,4}of[0-9]{1,4})?$/;

const image = z.object({ ref: repoTag, configDigest: digest.nullable() }).strict();

export const stickIndexSchema = z
  .object({
    format: z.literal(STICK_FORMAT),
    /** identifies the set of sticks: sha256 of what the set carries (the same on every stick) */
    set: digest,
    stick: z.object({ number: z.number().int().min(1).max(999), of: z.number().int().min(1).max(999) }).strict(),
    deployment: z.object({ id: z.number().int().positive(), name: z.string().min(1).max(256) }).strict(),
    exporter: z.object({ actor: z.string().min(1).max(256), host: z.string().max(256) }).strict(),
    createdAt: z.string().datetime(),
    bundles: z
      .array(
        z
          .object({
            bundleId: digest,
            /** sha256 and size of the whole bundle file */
            sha256: digest,
            size,
            version: z.number().int().positive(),
            target: image,
            base: image.nullable(),
            pieces: z
              .array(z.object({ file: z.string().regex(PIECE_NAME, 'not a bundle file name'), offset: size, size, sha256: digest, stick: z.number().int().min(1).max(999) }).strict())
              .min(1)
              .max(9999),
          })
          .strict(),
      )
      .max(10_000),
    /** per device, its bundles (by sha256) in the order it applies them */
    devices: z.array(z.object({ deviceId: hubId, bundles: z.array(digest).min(1).max(1000) }).strict()).min(1).max(10_000),
    /** sha256 of the raw ed25519 public key that signed the index */
    signer: digest,
  })
  .strict()
  .superRefine((ix, ctx) => {
    if (ix.stick.number > ix.stick.of) ctx.addIssue({ code: 'custom', path: ['stick'], message: `stick ${ix.stick.number} of ${ix.stick.of}` });
    const known = new Set(ix.bundles.map((b) => b.sha256));
    const files = new Set<string>();
    for (const b of ix.bundles) {
      let at = 0;
      for (const p of b.pieces) {
        if (!p.file.startsWith(b.sha256.slice(7))) ctx.addIssue({ code: 'custom', path: ['bundles'], message: `piece ${p.file} does not belong to bundle ${b.sha256}` });
        if (p.offset !== at || p.stick > ix.stick.of) ctx.addIssue({ code: 'custom', path: ['bundles'], message: `pieces of bundle ${b.sha256} do not tile it` });
        if (files.has(p.file)) ctx.addIssue({ code: 'custom', path: ['bundles'], message: `file ${p.file} is listed twice` });
        files.add(p.file);
        at += p.size;
      }
      if (at !== b.size) ctx.addIssue({ code: 'custom', path: ['bundles'], message: `pieces of bundle ${b.sha256} add up to ${at} bytes, not ${b.size}` });
    }
    for (const d of ix.devices) for (const s of d.bundles) if (!known.has(s)) ctx.addIssue({ code: 'custom', path: ['devices'], message: `device ${d.deviceId} needs ${s}, which the index does not carry` });
  });

export type StickIndex = z.infer<typeof stickIndexSchema>;
export type StickBundle = StickIndex['bundles'][number];
export type Piece = StickBundle['pieces'][number];

export const signedIndexSchema = z.object({ index: z.unknown(), signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'want a base64 ed25519 signature') }).strict();

/** The exact bytes an index signature covers. */
export function indexSigningBytes(index: StickIndex): Uint8Array {
  return new TextEncoder().encode(INDEX_DOMAIN + canonicalJson(index));
}

/** Every way a stick can be refused, each its own code (docs/usb.md lists them). */
export type UsbErrorCode =
  | 'no-index' // lighter/index.json is missing
  | 'bad-index' // not JSON, too large, or not an index this build reads
  | 'bad-signature' // the index signature does not verify (altered)
  | 'wrong-key' // signed by another key than the bundle key the importer trusts
  | 'unexpected-file' // a file under lighter/ the signed index does not list
  | 'unsafe-entry' // a symlink, device or directory where a bundle file should be
  | 'missing-file' // a file the index puts on this stick is not there
  | 'size-mismatch' // a file is shorter or longer than the index says (truncated, appended)
  | 'digest-mismatch' // a file's bytes differ from its signed sha256 (flipped, replaced)
  | 'read-error' // the medium failed to read (I/O error): not tampering, retry or recopy
  | 'too-small' // the stick cannot hold what is to go on it
  | 'too-many-sticks'; // the set needs more sticks than were given

export class UsbError extends CodedError<UsbErrorCode> {
  override name = 'UsbError';
  constructor(code: UsbErrorCode, detail: string) {
    super(code, `${code}: ${detail}`);
  }
}

export interface SplitInput {
  bundles: Array<{ sha256: string; size: number }>;
  /** bytes of bundle files one stick may hold (its size less STICK_RESERVE) */
  capacity: number;
  /** the largest file the filesystem takes */
  fileLimit: number;
}

/**
 * Cuts bundles into pieces no larger than a file or a stick may hold and assigns them to sticks,
 * largest first, each to the first stick with room. Deterministic: the same set and sizes give the
 * same sticks, so an export resumed (or written one stick at a time) puts every file where the
 * index says.
 */
export function splitOverSticks(input: SplitInput): { sticks: number; pieces: Map<string, Piece[]> } {
  if (input.capacity < 1) throw new UsbError('too-small', `a stick of this size holds no bundle bytes after the ${STICK_RESERVE}-byte reserve for its index and receipts`);
  const maxPiece = Math.min(input.capacity, input.fileLimit);
  const all: Array<Piece & { bundle: string }> = [];
  const ordered = [...new Map(input.bundles.map((b) => [b.sha256, b])).values()].sort((a, b) => b.size - a.size || (a.sha256 < b.sha256 ? -1 : 1));
  for (const b of ordered) {
    const n = Math.max(1, Math.ceil(b.size / maxPiece));
    const hex = b.sha256.slice('sha256:'.length);
    for (let k = 0; k < n; k++) {
      const offset = k * maxPiece;
      all.push({ bundle: b.sha256, file: n === 1 ? `${hex}.bundle` : `${hex}.bundle.${k + 1}of${n}`, offset, size: Math.min(maxPiece, b.size - offset), sha256: '', stick: 0 });
    }
  }
  const free: number[] = [];
  for (const p of [...all].sort((a, b) => b.size - a.size || (a.file < b.file ? -1 : 1))) {
    let s = free.findIndex((room) => room >= p.size);
    if (s < 0) {
      free.push(input.capacity);
      s = free.length - 1;
    }
    free[s]! -= p.size;
    p.stick = s + 1;
  }
  const pieces = new Map<string, Piece[]>();
  for (const { bundle, ...p } of all) pieces.set(bundle, [...(pieces.get(bundle) ?? []), p]);
  return { sticks: Math.max(1, free.length), pieces };
}

/** "sticks 1 and 3", for messages about where the rest of a set is. */
export function sticksHolding(index: StickIndex, bundleSha: string): number[] {
  return [...new Set(index.bundles.find((b) => b.sha256 === bundleSha)?.pieces.map((p) => p.stick) ?? [])].sort((a, b) => a - b);
}
