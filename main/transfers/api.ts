// The `uploads` namespace of the IPC contract over the upload store and queue. Requests arrive
// parsed by the contract's schemas. Pause and cancel also poke this process's runner so it stops at
// once (a runner in another process notices within half a second).
import type { JobInfo, UploadRow, UploadsApi, UploadStatus, UploadTargetInfo } from '../../contract/index.js';
import type { Inventory } from '../inventory/store.js';
import type { Jobs } from '../jobs/service.js';
import type { UploadQueue } from './upload-queue.js';
import type { UploadItem, UploadStore } from './upload-store.js';
import type { UploadTarget } from './upload-target.js';

type Req<M extends keyof UploadsApi> = NonNullable<Parameters<UploadsApi[M]>[0]>;

function toRow(t: UploadItem): UploadRow {
  return {
    id: t.id,
    deviceId: t.deviceId,
    bundleId: t.bundleId,
    size: t.size,
    state: t.state,
    paused: t.pausedAt !== null,
    deployment: t.deployment,
    deploymentId: t.deploymentId,
    priority: t.priority,
    dueAt: t.dueAt,
    bytesDone: t.bytesDone,
    attempts: t.attempts,
    lastError: t.lastError,
    finishedAt: t.finishedAt,
  };
}

export class UploadsApiService implements UploadsApi {
  constructor(
    private readonly store: UploadStore,
    private readonly runner: UploadQueue,
    private readonly jobs: Jobs,
    private readonly inventory: Inventory,
    private readonly storage: UploadTarget,
  ) {}

  async list(req: Req<'list'> = {}): Promise<UploadRow[]> {
    const queued = req.state === undefined || req.state === 'queued' ? this.runner.queued() : [];
    const others = req.state === 'queued' ? [] : this.store.list(req.state ? [req.state] : undefined).filter((t) => !queued.some((q) => q.id === t.id));
    // what is on the link now comes before what goes next
    const running = others.filter((t) => t.state === 'running');
    return [...running, ...queued, ...others.filter((t) => t.state !== 'running')].map(toRow);
  }

  async progress(): Promise<UploadStatus> {
    const running = this.runner.progress();
    return { running, rate: running.reduce((s, p, i, all) => (all.findIndex((q) => q.bundleId === p.bundleId) === i ? s + p.rate : s), 0), cap: this.runner.rate };
  }

  async queue(req: Req<'queue'>): Promise<number[]> {
    const ids = this.store.queueDeployment(req.deploymentId);
    this.runner.poke();
    return ids;
  }

  async pause(req: Req<'pause'>): Promise<UploadRow> {
    const t = this.store.pause(req.id);
    this.runner.poke();
    return toRow(t);
  }

  async resume(req: Req<'resume'>): Promise<UploadRow> {
    const t = this.store.resume(req.id);
    this.runner.poke();
    return toRow(t);
  }

  async cancel(req: Req<'cancel'>): Promise<UploadRow> {
    const t = this.store.cancel(req.id);
    this.runner.poke();
    return toRow(t);
  }

  async setRate(req: Req<'setRate'>): Promise<UploadStatus> {
    this.runner.setRate(req.bytesPerSecond);
    return this.progress();
  }

  async setPriority(req: Req<'setPriority'>): Promise<UploadRow[]> {
    this.inventory.setDeploymentPriority(req.deploymentId, req.priority);
    this.runner.poke();
    return this.list();
  }

  async target(): Promise<UploadTargetInfo> {
    return this.storage.describe();
  }

  async setTarget(req: Req<'setTarget'>): Promise<UploadTargetInfo> {
    await this.storage.set(req.credential, req.container);
    return this.storage.describe();
  }

  async run(req: Req<'run'> = {}): Promise<JobInfo> {
    const once = req.once ?? false;
    const job = this.jobs.start(
      'upload-run',
      once ? 'Upload the queue' : 'Work the upload queue',
      { once },
      (ctx) =>
        this.runner.run({
          once,
          signal: ctx.signal,
          onProgress: (running) => {
            // One count per bundle: transfers of one bundle share its bytes.
            const bundles = new Map(running.map((p) => [p.bundleId, p]));
            const done = [...bundles.values()].reduce((s, p) => s + p.done, 0);
            const total = [...bundles.values()].reduce((s, p) => s + p.total, 0);
            if (!ctx.signal.aborted) ctx.progress(done, total, `${bundles.size} bundle${bundles.size === 1 ? '' : 's'} uploading`);
          },
        }),
      { exclusive: 'upload-queue' },
    );
    return job.info();
  }
}
