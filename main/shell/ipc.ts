// The contract over Electron IPC: one ipcMain.handle per channel, each refusing frames other than
// our own renderer before anything is parsed. Replies use the same envelope as the loopback bridge.
import { ipcMain } from 'electron';
import { IPC_PREFIX, type BridgeFailure } from '../../contract/index.js';
import type { Handlers } from '../bridge/handlers.js';
import { isTrustedSender } from './security.js';

export function registerIpc(handlers: Handlers, trusted: string): void {
  for (const channel of handlers.channels()) {
    ipcMain.handle(IPC_PREFIX + channel, (event, request) => {
      if (!isTrustedSender(event.senderFrame, trusted)) {
        return { error: { code: 'forbidden', message: `${channel}: refused a call from ${event.senderFrame?.url ?? 'an unknown frame'}` } } satisfies BridgeFailure;
      }
      return handlers.reply(channel, request);
    });
  }
}
