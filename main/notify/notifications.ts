// Notifications: what a sync or a push yields for people (an image applied or failed on a device,
// a deployment ready, a deployment pushed). Each is kept in the inventory for the app's list and,
// when it concerns a deployment, queued as an e-mail to whoever ordered it (mailer.ts sends them).
import type { NotificationItem, NotificationKind } from '../../contract/index.js';
import type { Db } from '../inventory/open.js';

export interface NewNotification {
  kind: NotificationKind;
  message: string;
  deploymentId?: number | null;
  deviceId?: string | null;
  image?: string | null;
  syncId?: number | null;
  /** the orderer's address; set, the notification is queued for e-mail */
  mailTo?: string | null;
}

interface Row {
  id: number;
  at: string;
  kind: NotificationKind;
  message: string;
  deployment_id: number | null;
  deployment_name: string | null;
  device_id: string | null;
  image: string | null;
  read_at: string | null;
  mail_to: string | null;
  mail_state: 'none' | 'queued' | 'sent';
  mail_attempts: number;
  mail_error: string | null;
  mailed_at: string | null;
}

const toNotification = (r: Row): NotificationItem => ({
  id: r.id,
  at: r.at,
  kind: r.kind,
  message: r.message,
  deploymentId: r.deployment_id,
  deploymentName: r.deployment_name,
  deviceId: r.device_id,
  image: r.image,
  read: r.read_at !== null,
  mail: r.mail_to && r.mail_state !== 'none' ? { to: r.mail_to, state: r.mail_state, attempts: r.mail_attempts, error: r.mail_error, sentAt: r.mailed_at } : null,
});

const SELECT = 'SELECT n.*, d.name AS deployment_name FROM notifications n LEFT JOIN deployments d ON d.id = n.deployment_id';

export class Notifications {
  private readonly listeners = new Set<(n: NotificationItem) => void>();

  constructor(private readonly db: Db) {}

  /** New notifications as they are recorded (desktop notifications, the app's list). */
  subscribe(listener: (n: NotificationItem) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Records one; call inside the transaction of the change it reports. Listeners hear of it via announce(). */
  add(n: NewNotification): number {
    return Number(
      this.db
        .prepare('INSERT INTO notifications (at, kind, deployment_id, device_id, image, message, sync_id, mail_to, mail_state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(new Date().toISOString(), n.kind, n.deploymentId ?? null, n.deviceId ?? null, n.image ?? null, n.message, n.syncId ?? null, n.mailTo ?? null, n.mailTo ? 'queued' : 'none').lastInsertRowid,
    );
  }

  /** Tells listeners about notifications once their transaction has committed. */
  announce(ids: number[]): void {
    if (ids.length === 0 || this.listeners.size === 0) return;
    for (const n of ids.map((id) => this.get(id))) for (const l of this.listeners) l(n);
  }

  get(id: number): NotificationItem {
    const r = this.db.prepare(`${SELECT} WHERE n.id = ?`).get(id) as Row | undefined;
    if (!r) throw new Error(`no notification #${id}`);
    return toNotification(r);
  }

  list(opts: { limit?: number; unreadOnly?: boolean } = {}): NotificationItem[] {
    const rows = this.db.prepare(`${SELECT} ${opts.unreadOnly ? 'WHERE n.read_at IS NULL' : ''} ORDER BY n.id DESC LIMIT ?`).all(opts.limit ?? 100) as Row[];
    return rows.map(toNotification);
  }

  markRead(ids: number[]): number {
    const stmt = this.db.prepare('UPDATE notifications SET read_at = ? WHERE id = ? AND read_at IS NULL');
    return this.db.transaction(() => ids.reduce((n, id) => n + stmt.run(new Date().toISOString(), id).changes, 0))();
  }

  /** Mail waiting for a relay, oldest first. */
  queuedMail(): NotificationItem[] {
    return (this.db.prepare(`${SELECT} WHERE n.mail_state = 'queued' ORDER BY n.id`).all() as Row[]).map(toNotification);
  }

  mailSent(id: number): void {
    this.db.prepare("UPDATE notifications SET mail_state = 'sent', mailed_at = ?, mail_attempts = mail_attempts + 1, mail_error = NULL WHERE id = ? AND mail_state = 'queued'").run(new Date().toISOString(), id);
  }

  mailFailed(id: number, error: string): void {
    this.db.prepare('UPDATE notifications SET mail_attempts = mail_attempts + 1, mail_error = ? WHERE id = ?').run(error.slice(0, 500), id);
  }
}
