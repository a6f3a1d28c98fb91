// What main pushes to the renderer without being asked: over the loopback bridge as Server-Sent
// Events on GET /events (token-checked like every call), in Electron through webContents.send on
// EVENT_CHANNEL. After a reconnect or a page reload the renderer re-reads what it shows
// (jobs.list) and applies events from then on, so nothing depends on having seen every event.
import type { NotificationItem } from './hub.js';
import type { JobInfo } from './jobs.js';

export type BridgeEvent = { type: 'job'; job: JobInfo } | { type: 'notification'; notification: NotificationItem };

/** the Electron IPC channel events arrive on (main -> renderer only) */
export const EVENT_CHANNEL = 'lighter:event';

/** the bridge's event stream; GET with the token header */
export const EVENTS_PATH = '/events';

/** What the preload (Electron) or the renderer's HTTP client offers for events. */
export interface EventSubscription {
  /** calls `listener` for every event until the returned function is called */
  subscribe(listener: (event: BridgeEvent) => void): () => void;
}
