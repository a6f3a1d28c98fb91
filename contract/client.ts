// Builds the typed LighterApi from one "call a channel" function, so the preload (over Electron IPC)
// and the renderer (over the loopback bridge) expose the same object. Every call answers with a
// BridgeReply; failures become BridgeCallError with the code and message main gave.
import { METHODS, type BridgeErrorCode, type BridgeFailure, type Namespace } from './channels.js';
import type { LighterApi } from './index.js';

export type BridgeReply = { result: unknown } | BridgeFailure;

export class BridgeCallError extends Error {
  override name = 'BridgeCallError';
  constructor(
    readonly code: BridgeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function unwrap(reply: BridgeReply): unknown {
  if ('error' in reply) throw new BridgeCallError(reply.error.code, reply.error.message);
  return reply.result;
}

export function apiFrom(call: (channel: string, request: unknown) => Promise<BridgeReply>): LighterApi {
  const api: Record<string, Record<string, (request?: unknown) => Promise<unknown>>> = {};
  for (const namespace of Object.keys(METHODS) as Namespace[]) {
    api[namespace] = Object.fromEntries(
      METHODS[namespace].map((method) => [method, async (request?: unknown) => unwrap(await call(`${namespace}.${method}`, request ?? {}))]),
    );
  }
  return api as unknown as LighterApi;
}
