// The `hub` namespace of the contract over the hub services. Sync and push run as jobs (one sync of
// a hub at a time: the job's exclusive resource); the answer is the JobInfo, the outcome arrives
// through the job service. A connection string only ever travels inward.
import type { HubApi, HubSummary, MailFlush, MailRelay, NotificationItem, BackgroundSyncStatus } from '../../contract/hub.js';
import type { JobInfo } from '../../contract/jobs.js';
import type { Jobs } from '../jobs/service.js';
import type { HubServices } from './hub-services.js';

type Req<M extends keyof HubApi> = NonNullable<Parameters<HubApi[M]>[0]>;

export class HubBridge implements HubApi {
  constructor(
    private readonly hub: HubServices,
    private readonly jobs: Jobs,
  ) {}

  async list(): Promise<HubSummary[]> {
    return this.hub.connections.list();
  }

  async add(req: Req<'add'>): Promise<HubSummary> {
    return this.hub.connections.add(req.name, req.connectionString);
  }

  async remove(req: Req<'remove'>): Promise<{ removed: string }> {
    await this.hub.connections.remove(req.name);
    return { removed: req.name };
  }

  async sync(req: Req<'sync'> = {}): Promise<JobInfo> {
    const names = req.name ? [req.name] : this.hub.connections.names();
    if (req.name) await this.hub.connections.get(req.name);
    const job = this.jobs.start(
      'hub-sync',
      req.name ? `Sync hub ${req.name}` : 'Sync every hub',
      { hubs: names },
      async (ctx) => {
        const results = [];
        for (const name of names) {
          ctx.stage(`syncing ${name}`);
          results.push(await this.hub.sync.sync(name, { signal: ctx.signal, onProgress: (done, total) => ctx.progress(done, total, `syncing ${name}`) }));
        }
        await this.hub.mailer.flush({ signal: ctx.signal });
        return results;
      },
      { exclusive: req.name ? `hub:${req.name}` : 'hub:all', unit: 'items' },
    );
    job.done.catch(() => {});
    return job.info();
  }

  async push(req: Req<'push'>): Promise<JobInfo> {
    const job = this.jobs.start(
      'hub-push',
      `Push deployment #${req.deploymentId}`,
      req,
      async (ctx) => {
        const r = await this.hub.push.push(req.deploymentId, { ...(req.devices ? { devices: req.devices } : {}), signal: ctx.signal, onProgress: (d, t) => ctx.progress(d, t, 'applying manifests') });
        await this.hub.mailer.flush({ signal: ctx.signal });
        return r;
      },
      { exclusive: `deployment-push:${req.deploymentId}`, unit: 'items' },
    );
    job.done.catch(() => {});
    return job.info();
  }

  async notifications(req: Req<'notifications'> = {}): Promise<NotificationItem[]> {
    return this.hub.notifications.list({ limit: req.limit ?? 100, unreadOnly: req.unreadOnly ?? false });
  }

  async markRead(req: Req<'markRead'>): Promise<{ marked: number }> {
    return { marked: this.hub.notifications.markRead(req.ids) };
  }

  async background(): Promise<BackgroundSyncStatus> {
    return this.hub.background.status();
  }

  async mailRelay(): Promise<MailRelay | null> {
    return this.hub.mailer.relay();
  }

  async setMailRelay(req: Req<'setMailRelay'>): Promise<MailRelay> {
    const { password, ...relay } = req;
    return this.hub.mailer.setRelay(relay, password);
  }

  async flushMail(): Promise<MailFlush> {
    return this.hub.mailer.flush();
  }
}
