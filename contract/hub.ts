// `hub`: IoT Hub connections, sync and push, and the notifications they yield (the app's list and
// desktop notifications; `notification` events carry new ones). Sync and push are long: they start
// a job and answer with its JobInfo (progress and result through `jobs` and `job` events).
// A connection string goes in (hub.add) and never comes out: no method returns it.
import { z } from 'zod';
import type { MethodOf } from './channels.js';
import type { JobInfo } from './jobs.js';

const hubName = z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "use up to 64 letters, digits, '.', '_' or '-'");

export const hubRequests = {
  list: z.object({}).strict(),
  add: z.object({ name: hubName, connectionString: z.string().trim().min(1).max(1024) }).strict(),
  remove: z.object({ name: hubName }).strict(),
  /** one hub, or every hub when no name */
  sync: z.object({ name: hubName.optional() }).strict(),
  push: z.object({ deploymentId: z.number().int().positive(), devices: z.array(z.string().trim().min(1).max(128)).min(1).optional() }).strict(),
  notifications: z.object({ limit: z.number().int().min(1).max(1000).default(100), unreadOnly: z.boolean().default(false) }).strict(),
  markRead: z.object({ ids: z.array(z.number().int().positive()).min(1).max(1000) }).strict(),
  background: z.object({}).strict(),
  mailRelay: z.object({}).strict(),
  setMailRelay: z
    .object({
      host: z.string().trim().min(1).max(255),
      port: z.number().int().min(1).max(65535).default(587),
      secure: z.boolean().default(false),
      from: z.string().trim().regex(/^[^@\s]+@[^@\s]+$/, 'want an e-mail address'),
      user: z.string().trim().min(1).max(255).optional(),
      password: z.string().max(1024).optional(),
    })
    .strict(),
  flushMail: z.object({}).strict(),
} satisfies Record<MethodOf<'hub'>, z.ZodTypeAny>;

export interface HubSummary {
  name: string;
  hostName: string;
  policy: string;
  /** where its connection string is kept; never the string itself */
  secret: 'stored' | 'environment' | 'missing';
  addedBy: string;
  addedAt: string;
  lastSyncAt: string | null;
  lastSyncOk: boolean | null;
}

export type NotificationKind = 'image-applied' | 'image-failed' | 'deployment-ready' | 'deployment-pushed';

export interface NotificationItem {
  id: number;
  at: string;
  kind: NotificationKind;
  message: string;
  deploymentId: number | null;
  deploymentName: string | null;
  deviceId: string | null;
  image: string | null;
  read: boolean;
  mail: { to: string; state: 'queued' | 'sent'; attempts: number; error: string | null; sentAt: string | null } | null;
}

export interface BackgroundSyncStatus {
  running: boolean;
  enabled: boolean;
  lastRunAt: string | null;
  lastOkAt: string | null;
  lastError: string | null;
  failures: number;
  nextRunAt: string | null;
}

export interface MailRelay {
  host: string;
  port: number;
  secure: boolean;
  from: string;
  user?: string | undefined;
}

export interface MailFlush {
  sent: number;
  waiting: number;
  reason: string | null;
}

type In<M extends keyof typeof hubRequests> = z.input<(typeof hubRequests)[M]>;

export interface HubApi {
  list(req?: In<'list'>): Promise<HubSummary[]>;
  add(req: In<'add'>): Promise<HubSummary>;
  remove(req: In<'remove'>): Promise<{ removed: string }>;
  sync(req?: In<'sync'>): Promise<JobInfo>;
  push(req: In<'push'>): Promise<JobInfo>;
  notifications(req?: In<'notifications'>): Promise<NotificationItem[]>;
  markRead(req: In<'markRead'>): Promise<{ marked: number }>;
  background(req?: In<'background'>): Promise<BackgroundSyncStatus>;
  mailRelay(req?: In<'mailRelay'>): Promise<MailRelay | null>;
  setMailRelay(req: In<'setMailRelay'>): Promise<MailRelay>;
  flushMail(req?: In<'flushMail'>): Promise<MailFlush>;
}
