// The typed bridge, nothing else: exposes the contract as window.lighter, each method forwarding to
// main over one IPC channel. Sandboxed preloads cannot load our modules at run time, so this file is
// bundled (with the contract's method list) into dist/preload/preload.cjs.
import { contextBridge, ipcRenderer } from 'electron';
import { IPC_PREFIX } from '../contract/channels.js';
import { apiFrom, type BridgeReply } from '../contract/client.js';
import { EVENT_CHANNEL, type BridgeEvent, type EventSubscription } from '../contract/events.js';

contextBridge.exposeInMainWorld(
  'lighter',
  apiFrom((channel, request) => ipcRenderer.invoke(IPC_PREFIX + channel, request) as Promise<BridgeReply>),
);

const events: EventSubscription = {
  subscribe(listener) {
    const forward = (_event: unknown, payload: unknown) => listener(payload as BridgeEvent);
    ipcRenderer.on(EVENT_CHANNEL, forward);
    return () => ipcRenderer.removeListener(EVENT_CHANNEL, forward);
  },
};
contextBridge.exposeInMainWorld('lighterEvents', events);
