// What the edge module tells IoT Hub, in two shapes shore sync reads (main's hub sync: exactly these
// schemas; docs/edge-module.md has the field tables):
//
// 1. Module twin reported properties, all under the one top-level key `lighter`:
//      { lighter: { schema, moduleVersion, deviceId, moduleId, receiptKey, receiptKeyId,
//                   images: [{ ref, id }], results: [Result, newest first], store, lastVersion, updatedAt } }
//    The module always sends the whole `lighter` object (arrays replace, they do not merge), and
//    keeps it inside IoT Hub's twin rules: at most 32 KB of reported properties, 4 KB per string,
//    keys without '.', '$' or spaces (so lists are arrays, never maps keyed by repo:tag). When the
//    results would not fit, the oldest are dropped (fitReport); the receipts and the D2C messages
//    still carry every one.
// 2. A device-to-cloud message per result (d2cMessageSchema), sent in `seq` order from an on-disk
//    outbox; `seq` increases by one per message on a device, so shore detects gaps and duplicates.
//    The message carries the signed receipt, so shore can verify it like one from a USB stick.
import { z } from 'zod';
import { digest, hubId, imageRef, reasonCode, receiptSchema, MAX_MESSAGE_CHARS } from './receipt.js';

export const REPORT_SCHEMA = 1;
/** The key under properties.reported that belongs to Lighter. */
export const REPORT_KEY = 'lighter';
/** IoT Hub: reported properties at most 32 KB in all, string values at most 4 KB. */
export const TWIN_LIMITS = { totalBytes: 32 * 1024, valueBytes: 4 * 1024, depth: 10 } as const;
/** Room left for other reported properties (e.g. the SDK's own): the report aims below this. */
export const REPORT_BUDGET_BYTES = 28 * 1024;
/** Results kept in the twin at most (fewer when they would not fit the budget). */
export const MAX_RESULTS = 20;

const time = z.string().datetime({ offset: false });
const bytes = z.number().int().nonnegative();

export const resultSchema = z
  .object({
    /** null when the file never verified; then `file` names it */
    bundleId: digest.nullable(),
    version: z.number().int().positive().nullable(),
    file: z.string().min(1).max(255),
    result: z.enum(['applied', 'failed']),
    reason: reasonCode.optional(),
    message: z.string().max(MAX_MESSAGE_CHARS).optional(),
    target: imageRef.optional(),
    startedAt: time,
    finishedAt: time,
    durationMs: bytes,
  })
  .strict();
export type Result = z.infer<typeof resultSchema>;

export const storeSchema = z
  .object({
    /** bytes of distinct blobs the store's images reference */
    usedBytes: bytes,
    /** what is left: the quota minus used, or the store disk's free space, whichever is less */
    freeBytes: bytes,
    quotaBytes: bytes.optional(),
  })
  .strict();
export type StoreReport = z.infer<typeof storeSchema>;

export const reportSchema = z
  .object({
    schema: z.literal(REPORT_SCHEMA),
    moduleVersion: z.string().min(1).max(64),
    deviceId: hubId,
    moduleId: hubId,
    /** the device's receipt public key: base64 of its SPKI DER (io/receipt.ts publicKeyFromBase64) */
    receiptKey: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/).max(200),
    receiptKeyId: digest,
    /** every image in the device's store, sorted by ref */
    images: z.array(imageRef),
    /** the last results, newest first */
    results: z.array(resultSchema).max(MAX_RESULTS),
    store: storeSchema,
    /** the last bundle version applied (anti-rollback state); null before the first */
    lastVersion: z.number().int().positive().nullable(),
    updatedAt: time,
  })
  .strict();
export type Report = z.infer<typeof reportSchema>;

/** The reported-properties patch the module sends: `{ lighter: Report }`. */
export const reportedPropertiesSchema = z.object({ [REPORT_KEY]: reportSchema }).passthrough();

export const d2cMessageSchema = z
  .object({
    type: z.literal('lighter.result'),
    schema: z.literal(REPORT_SCHEMA),
    deviceId: hubId,
    moduleId: hubId,
    /** 1, 2, 3… per device, never reused: shore keeps the highest seen and ignores repeats */
    seq: z.number().int().positive(),
    result: resultSchema,
    receipt: receiptSchema,
  })
  .strict();
export type D2cMessage = z.infer<typeof d2cMessageSchema>;

/**
 * A JSON value's size as IoT Hub counts it: each key's UTF-8 length plus its value's; strings by
 * UTF-8 length without control characters, numbers 8 bytes, booleans 4; objects and arrays the sum
 * of what they hold.
 */
export function twinSize(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') return utf8Length(value.replace(/[\u0000-\u001f\u007f-\u009f]/g, ''));
  if (typeof value === 'number') return 8;
  if (typeof value === 'boolean') return 4;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + twinSize(v), 0);
  return Object.entries(value as Record<string, unknown>).reduce((n, [k, v]) => n + utf8Length(k) + twinSize(v), 0);
}

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/** Why a value breaks IoT Hub's twin rules (keys, string sizes, depth), or null when it does not. */
export function twinRuleViolation(value: unknown, path = '', depth = 0): string | null {
  if (depth > TWIN_LIMITS.depth) return `${path}: deeper than ${TWIN_LIMITS.depth} levels`;
  if (typeof value === 'string') return utf8Length(value) > TWIN_LIMITS.valueBytes ? `${path}: string over ${TWIN_LIMITS.valueBytes} bytes` : null;
  if (value === null || typeof value !== 'object') return null;
  for (const [k, v] of Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value)) {
    if (!Array.isArray(value) && (k === '' || /[.$ \u0000-\u001f\u007f-\u009f]/.test(k) || utf8Length(k) > 1024)) return `${path}: key ${JSON.stringify(k)} is not allowed in a twin`;
    const bad = twinRuleViolation(v, `${path}.${k}`, depth + 1);
    if (bad) return bad;
  }
  return null;
}

/** The size that must stay under the budget: IoT Hub's count, or the JSON text, whichever is larger. */
export function reportSize(props: unknown): number {
  return Math.max(twinSize(props), utf8Length(JSON.stringify(props)));
}

/**
 * The reported-properties patch for `report`, with the oldest results dropped until it fits the
 * budget. Throws when even no results would not fit (thousands of images: a store to prune).
 */
export function fitReport(report: Report, budget = REPORT_BUDGET_BYTES): { [REPORT_KEY]: Report } {
  const results = report.results.slice(0, MAX_RESULTS);
  for (let n = results.length; n >= 0; n--) {
    const props = { [REPORT_KEY]: reportSchema.parse({ ...report, results: results.slice(0, n) }) };
    if (reportSize(props) <= budget) {
      const bad = twinRuleViolation(props);
      if (bad) throw new Error(`the twin report breaks IoT Hub's rules: ${bad}`);
      return props;
    }
  }
  throw new Error(`the twin report does not fit ${budget} bytes even without results (${report.images.length} images)`);
}

/**
 * The patch as it goes to IoT Hub: fitReport's, without null fields. IoT Hub reads a null in a
 * reported patch as "delete this key", so a twin never holds one: readers take an absent
 * `lastVersion`, `bundleId` or `version` as null (main/hub/report-apply.ts does).
 */
export function twinPatch(report: Report, budget = REPORT_BUDGET_BYTES): Record<string, unknown> {
  return withoutNulls(fitReport(report, budget)) as Record<string, unknown>;
}

function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
}
