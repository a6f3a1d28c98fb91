// The upload queue: works upload transfers in the order of the business rules
// (core/transfers/queue-order.ts, docs/transfers.md), each bundle once as a content-addressed block
// blob however many devices need it, then each device's index blob, then the transfer's state.
// Transfers move queued → running → succeeded / failed / cancelled through the inventory's state
// machine; a pause sends a running one back to queued, held. Pause, resume and cancel may come from
// this process (the app) or another one (the CLI while `upload run` works): the runner reads the
// inventory twice a second and stops what was paused or cancelled there.
import type { ContainerClient } from '@azure/storage-blob';
import type { UploadProgress } from '../../contract/index.js';
import { DEFAULT_ORDER, orderQueue, type OrderRule } from '../../core/transfers/queue-order.js';
import { bundleBlobName, uploadBlob } from '../../io/blob/block-upload.js';
import { deviceIndexBlobName, encodeDeviceIndex } from '../../io/blob/device-index.js';
import { RateMeter } from '../../core/jobs/rate.js';
import { RateLimiter } from '../../io/blob/rate-limit.js';
import { blobCall, blobRetryDecision, describeBlobError, type BlobRetry } from '../../io/blob/storage.js';
import { IllegalTransitionError } from '../inventory/states.js';
import type { Inventory } from '../inventory/store.js';
import { RunnerBusyError, RunnerLock } from './runner-lock.js';
import type { UploadItem, UploadStore } from './upload-store.js';

export interface UploadDeps {
  inventory: Inventory;
  store: UploadStore;
  container: (signal?: AbortSignal) => Promise<ContainerClient>;
  /** where the bundle store keeps the bundle with this sha256 */
  bundlePath: (sha256: string) => string;
  /** one runner per data directory */
  lockFile: string;
  order?: readonly OrderRule[];
  blockSize?: number;
  /** how hard each storage call is retried before the transfer fails (default: blobCall's) */
  retry?: BlobRetry;
  /** a runner without --once queues a transfer that failed on the link again after this long, doubling each time (default 30 s, at most 15 min) */
  relinkMs?: number;
}

export interface RunOptions {
  /** stop when the queue is empty instead of waiting for more work */
  once?: boolean;
  signal?: AbortSignal;
  /**
   * bundles uploaded at the same time (the rate cap is shared by all of them); default 1: on a thin
   * link the bundle the rules put first gets all of it, instead of sharing it with the next
   */
  concurrency?: number;
  /** called whenever progress moves: all running transfers, and bytes/s over all of them */
  onProgress?: (running: UploadProgress[], rate: number) => void;
  /** a transfer finished, in the order they finish */
  onFinished?: (item: UploadItem) => void;
}

export interface RunSummary {
  succeeded: number[];
  failed: Array<{ id: number; error: string }>;
  /** stopped because paused or cancelled while running */
  stopped: number[];
}

/** A bundle being uploaded, for the transfers (one per device) that want it. */
interface Job {
  bundleId: string;
  sha256: string;
  size: number;
  transfers: Map<number, UploadItem>;
  controller: AbortController;
  done: number;
  /** body bytes put on the link for this bundle, and their rate */
  sent: number;
  meter: RateMeter;
  savedAt: number;
}

class ControlStop extends Error {
  override name = 'ControlStop';
}

export class UploadQueue {
  private readonly limiter = new RateLimiter(0);
  private readonly meter = new RateMeter();
  private sent = 0;
  private readonly jobs = new Map<string, Job>();
  private wake: (() => void) | undefined;
  private runningNow = false;
  private readonly indexWrites = new Map<string, Promise<void>>();
  /** transfers that failed on the link, and when a runner that keeps going queues them again */
  private readonly relink = new Map<number, { at: number; failures: number }>();

  constructor(private readonly deps: UploadDeps) {}

  get order(): readonly OrderRule[] {
    return this.deps.order ?? DEFAULT_ORDER;
  }

  /** The shared cap on the bytes per second of all uploads; 0 = none. Takes effect at once. */
  setRate(bytesPerSecond: number): void {
    this.limiter.setRate(bytesPerSecond);
  }

  get rate(): number {
    return this.limiter.rate;
  }

  /** The queue in the order it will be worked: what may start now first, then what waits. */
  queued(): UploadItem[] {
    const pending = this.deps.store.pending();
    const open = pending.filter((p) => p.state === 'queued' && !p.pausedAt);
    const ready = orderQueue(open, pending, this.order);
    const waiting = open.filter((p) => !ready.includes(p));
    return [...ready, ...waiting];
  }

  progress(): UploadProgress[] {
    const out: UploadProgress[] = [];
    for (const job of this.jobs.values()) {
      const rate = job.meter.rate() ?? 0;
      for (const t of job.transfers.values()) {
        out.push({ id: t.id, bundleId: job.bundleId, deviceId: t.deviceId, done: job.done, total: job.size, rate, etaSeconds: rate > 0 ? (job.size - job.done) / rate : null });
      }
    }
    return out.sort((a, b) => a.id - b.id);
  }

  /** Stops a running transfer at once when this process runs it (another process's runner polls). */
  poke(): void {
    this.control();
    this.wake?.();
  }

  async run(opts: RunOptions = {}): Promise<RunSummary> {
    if (this.runningNow) throw new RunnerBusyError('the upload queue is running already in this process');
    const lock = RunnerLock.take(this.deps.lockFile);
    this.runningNow = true;
    const summary: RunSummary = { succeeded: [], failed: [], stopped: [] };
    const concurrency = Math.max(1, opts.concurrency ?? 1);
    const working = new Set<Promise<void>>();
    const poll = setInterval(() => this.control(), 500);
    const onAbort = () => {
      for (const job of this.jobs.values()) job.controller.abort(opts.signal?.reason);
      this.wake?.();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const container = await this.deps.container(opts.signal);
      this.parkPausedOrphans();
      for (;;) {
        while (!opts.signal?.aborted && this.jobs.size < concurrency) {
          const job = this.nextJob();
          if (!job) break;
          const p = this.work(job, container, summary, opts).finally(() => {
            working.delete(p);
            this.wake?.();
          });
          working.add(p);
        }
        if (working.size === 0 && (opts.once || opts.signal?.aborted)) break;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          // New work (queued by the CLI in another process) is looked for every 2 s.
          setTimeout(resolve, 2000).unref();
        });
        this.wake = undefined;
      }
      return summary;
    } finally {
      clearInterval(poll);
      opts.signal?.removeEventListener('abort', onAbort);
      for (const job of this.jobs.values()) job.controller.abort(new ControlStop('the runner stopped'));
      await Promise.allSettled(working);
      this.runningNow = false;
      lock.release();
    }
  }

  // A runner killed while a transfer it ran was paused leaves it running and paused: queue it.
  private parkPausedOrphans(): void {
    for (const t of this.deps.store.pending()) if (t.state === 'running' && t.pausedAt) this.deps.store.parkPaused(t.id);
  }

  /**
   * The next bundle to upload and every transfer that may take it now. Transfers left running by a
   * runner that died are picked up like queued ones (they keep their state and their staged blocks).
   */
  private nextJob(): Job | undefined {
    this.requeueRelinked();
    const pending = this.deps.store.pending();
    const busy = new Set([...this.jobs.values()].flatMap((j) => [...j.transfers.keys()]));
    const open = pending.filter((p) => (p.state === 'queued' || p.state === 'running') && !p.pausedAt && !busy.has(p.id) && !this.jobs.has(p.bundleId));
    const ready = orderQueue(open, pending, this.order);
    const first = ready[0];
    if (!first) return undefined;
    const job: Job = {
      bundleId: first.bundleId,
      sha256: first.sha256,
      size: first.size,
      transfers: new Map(ready.filter((r) => r.bundleId === first.bundleId).map((r) => [r.id, r])),
      controller: new AbortController(),
      done: 0,
      sent: 0,
      meter: new RateMeter(),
      savedAt: 0,
    };
    for (const t of job.transfers.values()) {
      if (t.state === 'queued') this.deps.inventory.setTransferState(t.id, 'running');
      if (t.deploymentId !== null) this.markDeployment(t.deploymentId);
    }
    this.jobs.set(job.bundleId, job);
    return job;
  }

  // A link that is down for hours must not leave the queue failed: a runner that keeps going tries
  // such transfers again, later and later, while `upload list` shows why they failed meanwhile.
  private requeueRelinked(): void {
    const now = Date.now();
    for (const [id, r] of this.relink) {
      if (r.at > now) continue;
      // Resumed or cancelled by hand meanwhile: nothing to do. The count stays, to double the next wait.
      if (this.deps.store.item(id).state === 'failed') this.deps.inventory.setTransferState(id, 'queued');
      r.at = Infinity;
    }
  }

  private markDeployment(id: number): void {
    try {
      this.deps.inventory.setDeploymentState(id, 'transferring', 'uploads started');
    } catch (err) {
      // Already transferring (or further along): nothing to record.
      if (!(err instanceof IllegalTransitionError)) throw err;
    }
  }

  /** Drops transfers paused or cancelled in the inventory from their jobs; a job nobody wants stops. */
  private control(): void {
    for (const job of this.jobs.values()) {
      for (const id of [...job.transfers.keys()]) {
        const now = this.deps.store.item(id);
        if (now.state !== 'running' || now.pausedAt) job.transfers.delete(id);
      }
      if (job.transfers.size === 0) job.controller.abort(new ControlStop('paused or cancelled'));
    }
  }

  private async work(job: Job, container: ContainerClient, summary: RunSummary, opts: RunOptions): Promise<void> {
    const all = [...job.transfers.values()];
    const report = () => opts.onProgress?.(this.progress(), this.meter.rate() ?? 0);
    try {
      const devices = all.map((t) => t.deviceId);
      const uploaded = await uploadBlob({
        container,
        name: bundleBlobName(job.sha256),
        file: this.deps.bundlePath(job.sha256),
        sha256: job.sha256,
        size: job.size,
        metadata: { bundleid: job.bundleId, devices: devicesMetadata(devices) },
        ledger: this.deps.store.ledger,
        blockSize: this.deps.blockSize,
        retry: this.deps.retry,
        limiter: this.limiter,
        signal: job.controller.signal,
        onSent: (n) => {
          const at = performance.now();
          job.meter.sample(at, (job.sent += n));
          this.meter.sample(at, (this.sent += n));
        },
        onProgress: (done) => {
          job.done = done;
          const now = Date.now();
          if (now - job.savedAt >= 1000 || done === job.size) {
            job.savedAt = now;
            for (const t of job.transfers.values()) this.saveProgress(t.id, done);
          }
          report();
        },
      });
      if (uploaded.alreadyThere) await this.addDevices(container, bundleBlobName(job.sha256), devices, job.controller.signal);
      for (const t of [...job.transfers.values()]) {
        await this.publishIndex(container, t, job.controller.signal);
        this.deps.inventory.setTransferState(t.id, 'succeeded');
        this.relink.delete(t.id);
        this.markInTransit(t);
        summary.succeeded.push(t.id);
        // It failed on the link earlier in this run and made it now.
        summary.failed = summary.failed.filter((f) => f.id !== t.id);
        opts.onFinished?.(this.deps.store.item(t.id));
      }
    } catch (err) {
      const stopped = job.controller.signal.aborted;
      for (const t of all) {
        const now = this.deps.store.item(t.id);
        if (now.state !== 'running') {
          if (now.state === 'cancelled') summary.stopped.push(t.id);
          continue;
        }
        if (now.pausedAt) {
          this.deps.store.parkPaused(t.id);
          summary.stopped.push(t.id);
        } else if (stopped) {
          // The runner itself was stopped (Ctrl-C, the app closing): back to the queue, not a failure.
          this.deps.inventory.setTransferState(t.id, 'queued');
          summary.stopped.push(t.id);
        } else {
          const error = describeBlobError(err);
          this.deps.inventory.setTransferState(t.id, 'failed', { error });
          summary.failed.push({ id: t.id, error });
          if (!opts.once && blobRetryDecision(err) !== false) {
            const failures = (this.relink.get(t.id)?.failures ?? 0) + 1;
            const wait = Math.min(15 * 60_000, (this.deps.relinkMs ?? 30_000) * 2 ** (failures - 1));
            this.relink.set(t.id, { at: Date.now() + wait, failures });
          }
          opts.onFinished?.(this.deps.store.item(t.id));
        }
      }
    } finally {
      this.jobs.delete(job.bundleId);
      report();
    }
  }

  /** A blob uploaded earlier for other devices: its `devices` metadata names these too. */
  private async addDevices(container: ContainerClient, name: string, devices: string[], signal: AbortSignal): Promise<void> {
    const blob = container.getBlockBlobClient(name);
    const call = <T>(fn: () => Promise<T>) => blobCall(fn, { ...this.deps.retry, signal });
    const metadata = (await call(() => blob.getProperties({ abortSignal: signal }))).metadata ?? {};
    const known = (metadata.devices ?? '').split(',').filter(Boolean);
    // A fleet-sized list is kept as a count (devicesMetadata); the device indexes are the authority.
    if (known.some((d) => d.includes(' '))) return;
    const all = [...new Set([...known, ...devices])];
    if (all.length === known.length) return;
    await call(() => blob.setMetadata({ ...metadata, devices: devicesMetadata(all) }, { abortSignal: signal }));
  }

  private saveProgress(id: number, done: number): void {
    try {
      this.deps.inventory.transferProgress(id, done);
    } catch {
      /* paused or cancelled meanwhile: control() takes it out of the job */
    }
  }

  private markInTransit(t: UploadItem): void {
    for (const target of this.deps.store.targetsOf(t.bundleId)) {
      try {
        this.deps.inventory.setDeviceImage(t.deviceId, { name: target.name, configDigest: target.configDigest || null }, 'in_transit', { bundleId: t.bundleId, channel: 'upload' });
      } catch (err) {
        // Already on its way by another channel, or already there: leave its state as it is.
        if (!(err instanceof IllegalTransitionError)) throw err;
      }
    }
  }

  /**
   * Rewrites the device's index blob: every bundle uploaded for it, this one included, in the order
   * it applies them. Written before the transfer counts as done, so a kill between the two only
   * means writing the same index again. One write per device at a time.
   */
  private async publishIndex(container: ContainerClient, t: UploadItem, signal: AbortSignal): Promise<void> {
    const prev = this.indexWrites.get(t.deviceId) ?? Promise.resolve();
    const next = prev.then(async () => {
      const entries = this.deps.store.deviceIndex(t.deviceId, [t.id]);
      const body = encodeDeviceIndex(
        t.deviceId,
        entries.map((e) => ({ blob: bundleBlobName(e.sha256), bundleId: e.bundleId, sha256: e.sha256, size: e.size, version: e.version, deployment: e.deployment })),
      );
      const blob = container.getBlockBlobClient(deviceIndexBlobName(t.deviceId));
      await blobCall(() => blob.upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' }, abortSignal: signal }), { ...this.deps.retry, signal });
    });
    this.indexWrites.set(t.deviceId, next.catch(() => undefined));
    await next;
  }
}

// Blob metadata is at most 8 KiB in all; a bundle for a whole fleet names its devices in the
// device indexes only.
function devicesMetadata(devices: string[]): string {
  const list = [...new Set(devices)].sort().join(',');
  return list.length <= 4096 ? list : `${devices.length} devices (see devices/<id>/index.json)`;
}
