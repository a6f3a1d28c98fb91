// The bridge's namespaces and their method names, with no schema library attached, so the sandboxed
// preload can build its forwarding object from this list alone. A channel is "<namespace>.<method>".
export const METHODS = {
  app: ['info'],
  deployments: ['create', 'build', 'show', 'plan', 'openManifest', 'pickManifest'],
  jobs: ['list', 'get', 'cancel'],
  fleet: ['importDevices'],
  planning: ['plan'],
  hub: ['list', 'add', 'remove', 'sync', 'push', 'notifications', 'markRead', 'background', 'mailRelay', 'setMailRelay', 'flushMail'],
  reports: ['dashboard'],
  inventory: ['status', 'devices', 'device', 'deployments', 'deployment', 'transfers', 'transfersPerDay', 'syncHistory', 'auditLog'],
  usb: ['export', 'import', 'receipts', 'trustKey'],
  uploads: ['list', 'progress', 'queue', 'pause', 'resume', 'cancel', 'setRate', 'setPriority', 'target', 'setTarget', 'run'],
} as const;

export type Namespace = keyof typeof METHODS;
export type MethodOf<N extends Namespace> = (typeof METHODS)[N][number];

export function channelOf(namespace: Namespace, method: string): string {
  return `${namespace}.${method}`;
}

/** Electron IPC channel for a bridge channel; the prefix keeps ours apart from anything else on ipcMain. */
export const IPC_PREFIX = 'lighter:';

/** Header that carries the loopback bridge's per-run token. */
export const TOKEN_HEADER = 'x-lighter-token';

export type BridgeErrorCode = 'invalid-request' | 'unknown-method' | 'not-found' | 'unauthorized' | 'forbidden' | 'failed';

/** The body of every failed bridge call, over HTTP and over Electron IPC alike. */
export interface BridgeFailure {
  error: { code: BridgeErrorCode; message: string };
}
