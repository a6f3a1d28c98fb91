// What one Electron IPC channel does with a call, apart from ipcMain so it is tested in Node: a call
// from any frame but our own renderer page is refused before its request is parsed or its service
// runs (a file picker opens for no other page); ours gets the bridge's reply envelope.
import type { BridgeReply } from '../../contract/client.js';
import type { BridgeFailure } from '../../contract/index.js';
import type { Handlers } from '../bridge/handlers.js';
import { isTrustedSender } from './security.js';

export type IpcCall = (event: { senderFrame: { url: string; parent: unknown } | null }, request: unknown) => Promise<BridgeReply>;

export function ipcReply(handlers: Handlers, trusted: string, channel: string): IpcCall {
  return async (event, request) => {
    if (!isTrustedSender(event.senderFrame, trusted)) {
      return { error: { code: 'forbidden', message: `${channel}: refused a call from ${event.senderFrame?.url ?? 'an unknown frame'}` } } satisfies BridgeFailure;
    }
    return handlers.reply(channel, request);
  };
}
