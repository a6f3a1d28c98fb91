// The states of every stateful entity, each written once: the zod enums (contract/), the TypeScript
// types, the legal moves (main/inventory/states.ts), the SQL CHECKs (main/inventory/migrations.ts;
// shipped migrations are frozen, so main/inventory/states.test.ts holds the current schema's CHECKs
// equal to these) and the UI's labels and filters (renderer/) all come from here.
export const DEVICE_IMAGE_STATES = ['in_transit', 'applied', 'present', 'failed'] as const;
export const DEPLOYMENT_STATES = ['draft', 'planned', 'transferring', 'ready', 'pushed', 'cancelled'] as const;
export const TRANSFER_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export const BUNDLE_STATES = ['built', 'verified', 'rejected'] as const;
export const JOB_STATES = ['running', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;

export type DeviceImageState = (typeof DEVICE_IMAGE_STATES)[number];
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];
export type TransferState = (typeof TRANSFER_STATES)[number];
export type BundleState = (typeof BUNDLE_STATES)[number];
export type JobState = (typeof JOB_STATES)[number];
export type AnyState = DeviceImageState | DeploymentState | TransferState | BundleState | JobState;

/** How a state reads in the UI and in messages: "in transit" for in_transit. */
export function stateLabel(state: string): string {
  return state.replace(/_/g, ' ');
}
