// Why a bundle failed on a device: one short code per cause, the same in the twin, the D2C message
// and the receipt, so shore can count and act on them without parsing messages. Every bundle
// refusal code (core/bundle/errors.ts) is a reason as is; the rest are what only a device meets.
import type { BundleErrorCode } from '../bundle/errors.js';

const BUNDLE_REASONS = [
  'not-a-bundle',
  'unsupported-format',
  'truncated',
  'trailing-data',
  'too-large',
  'unsigned',
  'wrong-key',
  'bad-signature',
  'malformed-manifest',
  'bad-id',
  'replay',
  'expired',
  'part-digest',
  'no-matching-base',
  'layer-digest',
  'decompression-bomb',
  'unsafe-entry',
  'read-error',
] as const satisfies readonly BundleErrorCode[];

// A compile error here means core/bundle/errors.ts gained a code this list does not carry.
type Missing = Exclude<BundleErrorCode, (typeof BUNDLE_REASONS)[number]>;
const _allBundleCodes: Missing extends never ? true : Missing = true;

const DEVICE_REASONS = [
  /** the store (local registry) would pass its quota, or the disk is full */
  'store-full',
  /** the local registry did not answer or refused a write */
  'store-unavailable',
  /** `docker load` into the engine failed (the image is in the store all the same) */
  'docker-failed',
  /** anything else; the message says what */
  'internal',
] as const;

export const REASONS = [...BUNDLE_REASONS, ...DEVICE_REASONS] as const;
export type Reason = (typeof REASONS)[number];

/** Reasons that say the bundle itself is bad: it goes to quarantine and is never retried. */
export function isBundleFault(reason: Reason): boolean {
  return (BUNDLE_REASONS as readonly string[]).includes(reason);
}
