// The legal moves of every stateful entity (its states are listed once, in core/states.ts). A move
// not listed here is refused with IllegalTransitionError; `null` is "no row yet". docs/inventory.md
// draws the same tables.
import type { BundleState, DeploymentState, DeviceImageState, TransferState } from '../../core/states.js';

export type { BundleState, DeploymentState, DeviceImageState, TransferState } from '../../core/states.js';

/** Every state of S has a row, and moves only to states of S. */
type MovesOf<S extends string> = { readonly [K in S]: readonly S[] };

export const DEVICE_IMAGE_MOVES = {
  // an image reaches a device through a bundle (in_transit) or is observed there (present)
  null: ['in_transit', 'present'],
  in_transit: ['applied', 'failed', 'present'],
  // a failed transfer may be retried, or the image may turn up by other means
  failed: ['in_transit', 'present'],
  // applied = the edge module rebuilt it; present = confirmed by a later report
  applied: ['present'],
  present: [],
} as const satisfies MovesOf<DeviceImageState | 'null'>;

export const DEPLOYMENT_MOVES = {
  draft: ['planned', 'cancelled'],
  planned: ['transferring', 'ready', 'cancelled'],
  transferring: ['ready', 'cancelled'],
  ready: ['pushed', 'cancelled'],
  pushed: [],
  cancelled: [],
} as const satisfies MovesOf<DeploymentState>;

export const TRANSFER_MOVES = {
  queued: ['running', 'cancelled'],
  // running -> queued: paused by an engineer, it waits in the queue and picks up where it stopped
  running: ['succeeded', 'failed', 'cancelled', 'queued'],
  failed: ['queued', 'cancelled'],
  succeeded: [],
  cancelled: [],
} as const satisfies MovesOf<TransferState>;

export const BUNDLE_MOVES = {
  built: ['verified', 'rejected'],
  verified: [],
  rejected: [],
} as const satisfies MovesOf<BundleState>;

type Moves = Record<string, readonly string[]>;

export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
}

export function checkMove(moves: Moves, what: string, from: string | null, to: string): void {
  const allowed = moves[String(from)] ?? [];
  if (!allowed.includes(to)) {
    const options = allowed.length ? allowed.join(', ') : 'nothing (final state)';
    throw new IllegalTransitionError(`${what} cannot move from ${from ?? '(none)'} to ${to}; from ${from ?? '(none)'} it may move to ${options}`);
  }
}
