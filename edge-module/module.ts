// The edge module's main loop: look at the inbox, take the lowest-version complete bundle, apply
// it, report the outcome three ways (receipt file, D2C message via the outbox, twin), then move the
// file: removed once its image is stored and its receipt written, quarantined when it is bad, left
// for a later retry when the device was at fault. One bundle at a time; one module per state dir.
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { decodePreamble, declaredLength, headerLength, PREAMBLE_BYTES, type ManifestVerifier } from '../core/bundle/format.js';
import { parseManifest } from '../core/bundle/manifest.js';
import type { Report, Result } from '../core/edge/report.js';
import { sweepPartials } from '../io/atomic-file.js';
import { ApplyState } from '../io/bundle/state.js';
import { loadOrCreateReceiptKey, writeReceipt, type ReceiptKey } from '../io/receipt.js';
import { applyFile, type Outcome } from './apply-file.js';
import type { HubConfig } from './hub.js';
import { Inbox, type InboxFile } from './inbox.js';
import { recordInstalled } from './installed.js';
import { Journal } from './journal.js';
import { Reporter } from './reporter.js';
import { Store } from './store.js';
import { MODULE_VERSION } from './version.js';

export interface ModuleOptions {
  inbox: string;
  receipts: string;
  stateDir: string;
  trusted: ManifestVerifier[];
  /** host:port of the local registry */
  registry: string;
  /** also `docker load` (and find bases in Docker); the socket, or the default one */
  docker?: { socket?: string };
  /** null: no hub (reports stay in the outbox) */
  hub: HubConfig | null;
  deviceId?: string;
  moduleId?: string;
  quotaBytes?: number;
  /** the registry's storage directory (its disk's free space is reported); default the state dir */
  storeDir?: string;
  /** a file is taken once unchanged this long */
  settleMs: number;
  /** a settled file shorter than it declares is given this long to grow before it is refused as truncated */
  staleMs: number;
  pollMs: number;
  /** first wait before a bundle that failed for the device's own reasons is tried again (doubles, up to an hour) */
  retryMs: number;
  hubRetryMs: number;
  log: (line: string) => void;
}

const LOCK_FILE = 'module.lock';

/** One module per state dir: a pid file, taken over when its process is gone (kill -9, power loss). */
async function lockState(stateDir: string): Promise<() => Promise<void>> {
  const path = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(path, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await fs.readFile(path, 'utf8').catch(() => '')).trim());
      // In a container the module is pid 1 on every start: its own pid in the lock is a stale lock.
      const alive = Number.isInteger(pid) && pid > 0 && pid !== process.pid && (() => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      })();
      if (alive) throw new Error(`another edge module (pid ${pid}) uses the state dir ${stateDir}`);
      await fs.rm(path, { force: true });
    }
  }
  throw new Error(`cannot lock the state dir ${stateDir}`);
}

/** The unverified header's claims, used only to wait for a copy to finish and to order the queue. */
async function peek(path: string): Promise<{ declared?: number; version?: number; size: number }> {
  const fh = await fs.open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const pre = Buffer.alloc(PREAMBLE_BYTES);
    const { bytesRead } = await fh.read(pre, 0, PREAMBLE_BYTES, 0);
    if (bytesRead < PREAMBLE_BYTES) return { size, declared: PREAMBLE_BYTES };
    let preamble;
    try {
      preamble = decodePreamble(pre);
    } catch {
      return { size };
    }
    const header = headerLength(preamble);
    if (size < header) return { size, declared: header };
    const m = Buffer.alloc(preamble.manifestLength);
    await fh.read(m, 0, m.length, PREAMBLE_BYTES);
    try {
      const manifest = parseManifest(m);
      return { size, declared: declaredLength(preamble, manifest), version: manifest.version };
    } catch {
      return { size };
    }
  } finally {
    await fh.close();
  }
}

export class EdgeModule {
  private key!: ReceiptKey;
  private journal!: Journal;
  private reporter: Reporter | undefined;
  private store: Store;
  private unlock: (() => Promise<void>) | undefined;
  private readonly inbox: Inbox;
  private readonly held = new Map<string, { until: number; attempts: number; reason: string; size: number; mtimeMs: number }>();
  private running = false;
  private wake: (() => void) | undefined;
  readonly deviceId: string;
  readonly moduleId: string;

  constructor(private readonly opts: ModuleOptions, ids: { deviceId: string; moduleId: string | undefined }) {
    this.deviceId = opts.deviceId ?? ids.deviceId;
    this.moduleId = opts.moduleId ?? ids.moduleId ?? 'lighter';
    this.inbox = new Inbox(opts.inbox, opts.settleMs);
    this.store = new Store(opts.registry, { storeDir: opts.storeDir ?? opts.stateDir, ...(opts.quotaBytes !== undefined ? { quotaBytes: opts.quotaBytes } : {}) });
  }

  static defaultDeviceId(): string {
    return process.env.IOTEDGE_DEVICEID ?? hostname();
  }

  async start(): Promise<void> {
    await fs.mkdir(this.opts.stateDir, { recursive: true });
    this.unlock = await lockState(this.opts.stateDir);
    await sweepPartials(this.opts.stateDir);
    await sweepPartials(this.opts.inbox);
    await sweepPartials(this.opts.receipts).catch(() => 0);
    this.key = await loadOrCreateReceiptKey(this.opts.stateDir);
    this.journal = await Journal.open(this.opts.stateDir);
    if (this.opts.hub) {
      this.reporter = new Reporter(this.journal, this.opts.hub, () => this.report(), this.opts.log, this.opts.hubRetryMs);
      this.reporter.start();
    }
    this.running = true;
    this.opts.log(`edge module ${MODULE_VERSION}: device ${this.deviceId}, module ${this.moduleId}, inbox ${this.opts.inbox}, store ${this.opts.registry}, receipt key ${this.key.keyId}`);
  }

  /** The twin report as of now. */
  async report(): Promise<Report> {
    const images = await this.store.images();
    const last = await (await ApplyState.open(this.opts.stateDir)).lastApplied();
    return {
      schema: 1,
      moduleVersion: MODULE_VERSION,
      deviceId: this.deviceId,
      moduleId: this.moduleId,
      receiptKey: this.key.publicKeyBase64,
      receiptKeyId: this.key.keyId,
      images: images.map((i) => ({ ref: i.ref, id: i.id })),
      results: this.journal.results,
      store: await this.store.usage(images),
      lastVersion: last?.version ?? null,
      updatedAt: new Date().toISOString(),
    };
  }

  /**
   * One pass: applies every bundle that is ready, one at a time. Returns how many files it
   * finished (applied, quarantined, or failed and held).
   */
  async pass(): Promise<number> {
    let finished = 0;
    for (;;) {
      const next = await this.nextReady();
      if (!next || !this.running) return finished;
      await this.handle(next);
      finished++;
    }
  }

  /** The lowest-version complete bundle, unless a copy in progress may still bring a lower one. */
  private async nextReady(): Promise<InboxFile | undefined> {
    const now = Date.now();
    const { settled, writing } = await this.inbox.scan(now);
    const ready: Array<{ file: InboxFile; version: number }> = [];
    for (const file of settled) {
      const h = this.held.get(file.name);
      if (h && h.size === file.size && h.mtimeMs === file.mtimeMs && h.until > now) continue;
      const p = await peek(file.path).catch(() => undefined);
      if (!p) continue; // vanished or unreadable for now: the next scan looks again
      const incomplete = p.declared !== undefined && p.size < p.declared;
      if (incomplete && now - file.stableSince < this.opts.staleMs) continue;
      ready.push({ file, version: p.version ?? 0 });
    }
    if (ready.length === 0) return undefined;
    ready.sort((a, b) => a.version - b.version || a.file.mtimeMs - b.file.mtimeMs);
    const first = ready[0]!;
    // A lower version may be the file still being copied: wait for it, but not forever.
    if (writing > 0 && now - first.file.stableSince < this.opts.staleMs) return undefined;
    return first.file;
  }

  private async handle(file: InboxFile): Promise<void> {
    const startedAt = new Date();
    this.opts.log(`${file.name}: applying`);
    const outcome = await applyFile(file.path, {
      store: this.store,
      stateDir: this.opts.stateDir,
      trusted: this.opts.trusted,
      ...(this.opts.docker ? { docker: this.opts.docker } : {}),
    });
    const finishedAt = new Date();
    const held = this.held.get(file.name);
    // A retried failure with the same reason is not reported again (the first report stands).
    const repeat = outcome.disposition === 'retry' && held?.reason === outcome.reason;
    let receiptPath: string | undefined;
    if (!repeat) receiptPath = await this.record(file, outcome, startedAt, finishedAt);
    if (outcome.result === 'applied' && outcome.target && outcome.manifest) await recordInstalled(this.opts.stateDir, outcome.target, outcome.manifest.version);
    this.opts.log(`${file.name}: ${outcome.result}${outcome.reason ? ` (${outcome.reason}): ${outcome.message}` : ` ${outcome.target?.ref} ${outcome.target?.id}`}`);
    switch (outcome.disposition) {
      case 'remove':
        this.held.delete(file.name);
        await this.inbox.remove(file);
        break;
      case 'quarantine':
        this.held.delete(file.name);
        await this.inbox.quarantine(file, { reason: outcome.reason!, message: outcome.message ?? '', at: finishedAt.toISOString(), ...(receiptPath ? { receipt: receiptPath } : {}) });
        break;
      case 'retry': {
        const attempts = (held?.attempts ?? 0) + 1;
        const wait = Math.min(this.opts.retryMs * 2 ** (attempts - 1), 3_600_000);
        this.held.set(file.name, { until: Date.now() + wait, attempts, reason: outcome.reason!, size: file.size, mtimeMs: file.mtimeMs });
        break;
      }
    }
  }

  /** Receipt, then the journal (outbox + twin history); a crash between them repeats neither. */
  private async record(file: InboxFile, o: Outcome, startedAt: Date, finishedAt: Date): Promise<string> {
    const version = o.manifest?.version ?? null;
    const earlier = this.journal.recorded(o.fileSha, o.result, version);
    const result: Result = earlier ?? {
      bundleId: o.manifest?.id ?? null,
      version,
      file: file.name,
      result: o.result,
      ...(o.reason ? { reason: o.reason } : {}),
      ...(o.message ? { message: o.message } : {}),
      ...(o.target ? { target: o.target } : {}),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
    };
    const receipt = this.key.sign({
      format: 1,
      deviceId: this.deviceId,
      moduleId: this.moduleId,
      bundleId: result.bundleId,
      version: result.version,
      file: { name: file.name, sha256: o.fileSha, size: file.size },
      result: result.result,
      ...(result.reason ? { reason: result.reason } : {}),
      ...(result.message ? { message: result.message } : {}),
      ...(result.target ? { target: result.target } : {}),
      ...(o.base ? { base: o.base } : {}),
      startedAt: result.startedAt,
      finishedAt: result.finishedAt,
    });
    const path = await writeReceipt(this.opts.receipts, receipt);
    if (!earlier) await this.journal.record(result, receipt, { deviceId: this.deviceId, moduleId: this.moduleId });
    this.reporter?.kick();
    return path;
  }

  /** Runs passes until stop(). */
  async run(): Promise<void> {
    while (this.running) {
      try {
        await this.pass();
      } catch (err) {
        this.opts.log(`inbox: ${err instanceof Error ? err.message : String(err)}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.opts.pollMs);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /**
   * `--once`: lets the files present settle, applies every complete one, then gives the hub up to
   * `flushMs` to take the reports (what it does not take stays in the outbox for the next run).
   */
  async runOnce(flushMs = 30_000): Promise<void> {
    await this.inbox.scan();
    await new Promise((r) => setTimeout(r, this.opts.settleMs));
    while (this.running && (await this.pass()) > 0);
    const deadline = Date.now() + flushMs;
    while (this.reporter && this.running && Date.now() < deadline && !(await this.reporter.settled())) await new Promise((r) => setTimeout(r, 100));
  }

  /** Whether every report has reached the hub (always false without one). */
  async reported(): Promise<boolean> {
    return (await this.reporter?.settled()) ?? false;
  }

  /** The twin changed for another reason than a bundle (prune, restore): send it again. */
  kickReport(): void {
    this.reporter?.kick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.reporter?.stop();
    await this.unlock?.();
  }
}
