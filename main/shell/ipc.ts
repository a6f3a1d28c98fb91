// The contract over Electron IPC: one ipcMain.handle per channel, each refusing frames other than
// our own renderer before anything is parsed. Replies use the same envelope as the loopback bridge.
import { BrowserWindow, ipcMain } from 'electron';
import { EVENT_CHANNEL, IPC_PREFIX } from '../../contract/index.js';
import type { EventHub } from '../bridge/events.js';
import type { Handlers } from '../bridge/handlers.js';
import { ipcReply } from './ipc-reply.js';
import { isTrustedSender } from './security.js';

export function registerIpc(handlers: Handlers, trusted: string): void {
  for (const channel of handlers.channels()) ipcMain.handle(IPC_PREFIX + channel, ipcReply(handlers, trusted, channel));
}

/** Pushes main's events (job progress, ...) to every window showing our own page. */
export function forwardEvents(events: EventHub, trusted: string): () => void {
  return events.subscribe((event) => {
    for (const win of BrowserWindow.getAllWindows()) {
      const contents = win.webContents;
      if (!contents.isDestroyed() && isTrustedSender({ url: contents.getURL(), parent: null }, trusted)) contents.send(EVENT_CHANNEL, event);
    }
  });
}
