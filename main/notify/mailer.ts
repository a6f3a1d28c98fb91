// E-mail to the people who ordered deployments, through an SMTP relay the user configures (host,
// port, TLS, sender, optional login; the password is in the secret store). Mail is queued in the
// inventory (notifications.ts) and sent by flush(): while no relay answers it waits, and once one
// does every queued message goes out once (marked sent the moment the relay accepts it).
import nodemailer from 'nodemailer';
import type { z } from 'zod';
import { hubRequests, type MailFlush, type MailRelay, type NotificationItem } from '../../contract/index.js';
import type { Db } from '../inventory/open.js';
import type { OperationControl } from '../../io/operation.js';
import type { SecretStore } from '../secrets/secret-store.js';
import type { Notifications } from './notifications.js';

export const SMTP_PASSWORD_SECRET = 'smtp.password';
/** a message the relay refused this many times stays queued but is no longer tried */
const MAX_ATTEMPTS = 10;

/** The relay as kept: what `hub.setMailRelay` takes, but the password (that goes to the secret store). */
export const relaySchema = hubRequests.setMailRelay.omit({ password: true });

const SUBJECTS: Record<NotificationItem['kind'], string> = {
  'image-applied': 'image applied',
  'image-failed': 'image FAILED',
  'deployment-ready': 'deployment ready to push',
  'deployment-pushed': 'deployment pushed',
};

export class Mailer {
  private flushing: Promise<MailFlush> | undefined;

  constructor(
    private readonly db: Db,
    private readonly notifications: Notifications,
    private readonly secrets: SecretStore,
    private readonly options: { connectionTimeoutMs?: number } = {},
  ) {}

  relay(): MailRelay | null {
    const row = this.db.prepare("SELECT value_json FROM settings WHERE key = 'smtp'").get() as { value_json: string } | undefined;
    return row ? relaySchema.parse(JSON.parse(row.value_json)) : null;
  }

  async setRelay(relay: z.input<typeof relaySchema>, password?: string): Promise<MailRelay> {
    const r = relaySchema.parse(relay);
    if (password !== undefined) await this.secrets.set(SMTP_PASSWORD_SECRET, password);
    this.db.prepare("INSERT INTO settings (key, value_json, updated_at) VALUES ('smtp', ?, ?) ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at").run(JSON.stringify(r), new Date().toISOString());
    return r;
  }

  /** Sends what is queued; one flush at a time (a second call joins the running one). */
  flush(ctl: OperationControl = {}): Promise<MailFlush> {
    this.flushing ??= this.send(ctl).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async send(ctl: OperationControl): Promise<MailFlush> {
    const queued = this.notifications.queuedMail().filter((n) => (n.mail?.attempts ?? 0) < MAX_ATTEMPTS);
    const relay = this.relay();
    if (!relay) return { sent: 0, waiting: queued.length, reason: queued.length ? 'no SMTP relay configured (lighter notify relay --host ...)' : null };
    if (queued.length === 0) return { sent: 0, waiting: 0, reason: null };
    const password = relay.user ? await this.secrets.get(SMTP_PASSWORD_SECRET) : undefined;
    const timeout = this.options.connectionTimeoutMs ?? 15_000;
    const transport = nodemailer.createTransport({
      host: relay.host,
      port: relay.port,
      secure: relay.secure,
      ...(relay.user ? { auth: { user: relay.user, pass: password ?? '' } } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout * 2,
    });
    let sent = 0;
    try {
      for (const [i, n] of queued.entries()) {
        if (ctl.signal?.aborted) break;
        try {
          await transport.sendMail({
            from: relay.from,
            to: n.mail!.to,
            subject: `Lighter: ${SUBJECTS[n.kind]}${n.deploymentName ? ` (${n.deploymentName})` : ''}`,
            text: `${n.message}\n\n${n.deploymentName ? `Deployment: ${n.deploymentName}\n` : ''}${n.deviceId ? `Device: ${n.deviceId}\n` : ''}${n.image ? `Image: ${n.image}\n` : ''}At: ${n.at}\n`,
          });
          this.notifications.mailSent(n.id);
          sent++;
        } catch (err) {
          const e = err as { code?: string; responseCode?: number; message?: string };
          this.notifications.mailFailed(n.id, e.message ?? String(err));
          // A relay that refuses one address may take the next; one that does not answer takes none.
          if (!(e.responseCode && e.responseCode >= 500)) return { sent, waiting: queued.length - sent, reason: `SMTP relay ${relay.host}:${relay.port} did not take the mail: ${e.message ?? String(err)}` };
        }
        ctl.onProgress?.(i + 1, queued.length);
      }
    } finally {
      transport.close();
    }
    return { sent, waiting: queued.length - sent, reason: null };
  }
}
