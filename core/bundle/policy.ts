// What a device accepts, in the order it checks (after the signature): the version against the
// last one it applied (no replay, no rollback), then the expiry.
import { BundleError } from './errors.js';
import type { Manifest } from './manifest.js';

/** What a device's state dir remembers of the last bundle it applied. */
export interface AppliedRecord {
  version: number;
  id: string;
  appliedAt: string;
}

/**
 * Refuses a version at or below the last applied one. The very same bundle (same version and id)
 * is let through again: re-running it after a crash must finish the job, and it rebuilds the image
 * the device already has, so it rolls nothing back.
 */
export function checkVersion(m: Manifest, last: AppliedRecord | null): void {
  if (!last || m.version > last.version) return;
  if (m.version === last.version && m.id === last.id) return;
  throw new BundleError(
    'replay',
    `version ${m.version} is not newer than version ${last.version} applied at ${last.appliedAt} (replayed or rolled back)`,
  );
}

export function checkExpiry(m: Manifest, now: Date): void {
  if (m.expires !== undefined && Date.parse(m.expires) <= now.getTime()) {
    throw new BundleError('expired', `expired at ${m.expires}`);
  }
}
