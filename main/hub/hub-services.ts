// The hub services as one set (built in main/services.ts), for the bridge and the CLI.
import type { Mailer } from '../notify/mailer.js';
import type { Notifications } from '../notify/notifications.js';
import type { BackgroundSync } from './background-sync.js';
import type { HubConnections } from './connections.js';
import type { HubPush } from './push.js';
import type { HubSync } from './sync.js';

export interface HubServices {
  connections: HubConnections;
  sync: HubSync;
  push: HubPush;
  notifications: Notifications;
  mailer: Mailer;
  background: BackgroundSync;
}
