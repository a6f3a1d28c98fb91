// A receipt: what one device did with one bundle, signed by the device's own ed25519 key, so a USB
// stick carried back to shore proves it without a network (docs/edge-module.md, "Receipts").
//
// File: one JSON object, `{ ...ReceiptBody, signature }`, named receiptFileName(body) in the
// receipts folder. The signature (base64, 64 bytes) is over receiptSigningBytes(body): a fixed
// domain line, then the body as canonical JSON (keys sorted), so any reader can re-derive the exact
// bytes. Signing and key handling live in io/receipt.ts; this module is pure.
//
// Used by the edge module (device), by a crew laptop applying bundles for a device (`usb` helper),
// and by `lighter usb receipts` on shore to verify. The schema is strict on write and on read.
import { z } from 'zod';
import { canonicalJson, repoTag } from '../bundle/manifest.js';

export const RECEIPT_FORMAT = 1;
/** Prefix of the signed bytes: a receipt signature can never be mistaken for a bundle's. */
export const RECEIPT_DOMAIN = 'lighter-receipt-v1\n';
export const MAX_RECEIPT_BYTES = 64 << 10;
export const MAX_MESSAGE_CHARS = 300;

export const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'want sha256:<64 hex>');
const time = z.string().datetime({ offset: false });
/** IoT Hub device and module ids: up to 128 chars of letters, digits and `-.+%_#*?!(),:=@$'`. */
export const hubId = z.string().min(1).max(128).regex(/^[A-Za-z0-9\-.+%_#*?!(),:=@$']+$/, 'not an IoT Hub id');
/** A reason code (core/edge/reasons.ts); free-form here so shore can read codes a newer device adds. */
export const reasonCode = z.string().min(1).max(40).regex(/^[a-z][a-z0-9-]*$/, 'want a lower-case reason code');
const message = z.string().max(MAX_MESSAGE_CHARS);

/** An image on the device: its tag and its image id (config digest). */
export const imageRef = z.object({ ref: repoTag, id: digest }).strict();
export type ImageRef = z.infer<typeof imageRef>;

export const receiptBodySchema = z
  .object({
    format: z.literal(RECEIPT_FORMAT),
    deviceId: hubId,
    /** the module that applied it (`lighter` in IoT Edge), or the tool that did (e.g. a crew laptop) */
    moduleId: hubId,
    /** the verified bundle's id and version; null when the file never verified (not a bundle, bad signature…) */
    bundleId: digest.nullable(),
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullable(),
    /** the file as received: its name in the inbox, its sha256 and size (identifies unverifiable files) */
    file: z.object({ name: z.string().min(1).max(255), sha256: digest, size: z.number().int().nonnegative() }).strict(),
    result: z.enum(['applied', 'failed']),
    /** set exactly when result is 'failed' */
    reason: reasonCode.optional(),
    message: message.optional(),
    /** the image the bundle rebuilt (applied), or meant to (failed after verification) */
    target: imageRef.optional(),
    /** the image it was rebuilt from; absent for a full image */
    base: imageRef.optional(),
    startedAt: time,
    finishedAt: time,
    /** sha256 of the signer's raw ed25519 public key (io/keys.ts keyIdOf) */
    signer: digest,
  })
  .strict()
  .refine((r) => (r.result === 'failed') === (r.reason !== undefined), { message: 'a reason is given exactly when the result is failed', path: ['reason'] })
  .refine((r) => (r.bundleId === null) === (r.version === null), { message: 'bundleId and version are known together', path: ['version'] })
  .refine((r) => r.finishedAt >= r.startedAt, { message: 'finished before it started', path: ['finishedAt'] });

export type ReceiptBody = z.infer<typeof receiptBodySchema>;

export const receiptSchema = z
  .object({ signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'want a base64 ed25519 signature') })
  .passthrough()
  .transform((r, ctx) => {
    const { signature, ...rest } = r;
    const body = receiptBodySchema.safeParse(rest);
    if (!body.success) {
      for (const issue of body.error.issues) ctx.addIssue(issue);
      return z.NEVER;
    }
    return { ...body.data, signature };
  });

export type Receipt = ReceiptBody & { signature: string };

/** The exact bytes a receipt's signature covers. */
export function receiptSigningBytes(body: ReceiptBody): Uint8Array {
  const { format, deviceId, moduleId, bundleId, version, file, result, reason, message, target, base, startedAt, finishedAt, signer } = body;
  return new TextEncoder().encode(RECEIPT_DOMAIN + canonicalJson({ format, deviceId, moduleId, bundleId, version, file, result, reason, message, target, base, startedAt, finishedAt, signer }));
}

/** Parses receipt JSON text (from a USB stick: hostile until verified); throws a specific error. */
export function parseReceipt(text: string): Receipt {
  if (text.length > MAX_RECEIPT_BYTES) throw new Error(`receipt of ${text.length} bytes is over the ${MAX_RECEIPT_BYTES}-byte limit`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`receipt is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = receiptSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`receipt is malformed: ${issue?.path.join('.') || 'receipt'}: ${issue?.message}`);
  }
  return parsed.data;
}

/** Device ids may hold characters FAT32 and shells dislike: keep letters, digits, `.`, `_`, `-`. */
function fileSafe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * `<deviceId>-<bundle id hex>-v<version>-<first 16 hex of the file's sha256>.receipt.json`, or
 * `<deviceId>-file-<file sha256 hex>.receipt.json` for a file that never verified. The version is
 * in the name because bundle ids are content addresses (the same pair re-signed at another version
 * has the same id), and the file digest because a damaged copy of a bundle verifies its manifest
 * but must not overwrite the receipt of the good copy. A retry of the same file replaces its
 * receipt (latest outcome wins).
 */
export function receiptFileName(body: Pick<ReceiptBody, 'deviceId' | 'bundleId' | 'version' | 'file'>): string {
  const device = fileSafe(body.deviceId);
  const file = body.file.sha256.slice('sha256:'.length);
  if (body.bundleId === null || body.version === null) return `${device}-file-${file}.receipt.json`;
  return `${device}-${body.bundleId.slice('sha256:'.length)}-v${body.version}-${file.slice(0, 16)}.receipt.json`;
}

export const RECEIPT_SUFFIX = '.receipt.json';
