// `usb import` on the crew laptop: the stick's index and every file on it verified (and copied into
// a staging area) before anything else, each bundle checked as a bundle, then per device what it
// will do, then its bundles applied in order into the device's registry over the ship LAN (the
// ordinary apply path) or copied into its inbox; a receipt for every apply, signed with this
// laptop's own key (made on first use), goes onto the stick.
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BundleError } from '../../core/bundle/errors.js';
import { parseImageName } from '../../core/deployment/image-name.js';
import { receiptFileName, type ReceiptBody } from '../../core/edge/receipt.js';
import { RECEIPTS_DIR, UsbError, type StickBundle } from '../../core/usb/stick.js';
import { writeFileAtomic } from '../../io/atomic-file.js';
import { applyBundle } from '../../io/bundle/apply.js';
import { openBundle } from '../../io/bundle/reader.js';
import { ApplyState } from '../../io/bundle/state.js';
import { VerifyingStream } from '../../io/digest.js';
import { loadVerifier } from '../../io/keys.js';
import { loadOrCreateReceiptKey, parsePublicKey, writeReceipt } from '../../io/receipt.js';
import { checkCancelled, type OperationControl } from '../../io/operation.js';
import { isReadError } from './files.js';
import { readIndex, verifyAndStage } from './stick-reader.js';

/** The receipts' moduleId when a crew laptop applied, not the device's edge module. */
export const CREW_MODULE_ID = 'lighter-usb';

export interface ImportRequest {
  dir: string;
  /** the bundle public key (PEM file) the index and bundles must be signed with */
  pubkey: string;
  /** device id -> its registry over the LAN, "docker://HOST:PORT" */
  apply?: Record<string, string>;
  /** device id -> its inbox folder (the edge module applies and writes its own receipt) */
  inbox?: Record<string, string>;
  /** list what would be done, do nothing */
  dryRun?: boolean;
  /**
   * allow plain HTTP to device registries that are not on loopback (the ship LAN): true for every
   * device (--insecure, as for `image`), or the ids of the devices whose registries need it, so the
   * others keep verified HTTPS
   */
  insecure?: boolean | string[];
}

export type BundleOutcome = 'applied' | 'already-applied' | 'copied' | 'waiting' | 'failed' | 'not-reached' | 'planned';

export interface DeviceOutcome {
  deviceId: string;
  action: 'apply' | 'inbox' | 'none';
  via: string | null;
  bundles: Array<{ bundleId: string; version: number; target: string; base: string | null; outcome: BundleOutcome; detail?: string; receipt?: string }>;
}

export interface ImportReport {
  set: string;
  stick: { number: number; of: number };
  deployment: { id: number; name: string };
  ignored: string[];
  devices: DeviceOutcome[];
  receiptKey: string | null;
}

export class UsbImporter {
  constructor(
    /** the crew laptop's data directory: staging, per-device apply state, its receipt key */
    private readonly dataDir: string,
  ) {}

  async import(req: ImportRequest, ctl: OperationControl = {}): Promise<ImportReport> {
    const verifier = await loadVerifier(req.pubkey);
    const bundleKey = parsePublicKey(await fs.readFile(req.pubkey, 'utf8'));
    for (const [device, target] of Object.entries(req.apply ?? {})) {
      if (!/^docker:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/.test(target)) throw new Error(`--apply ${device}=${target}: want docker://HOST:PORT (the device's registry)`);
      if (req.inbox?.[device]) throw new Error(`device ${device} has both --apply and --inbox; give one`);
    }
    for (const device of Array.isArray(req.insecure) ? req.insecure : []) {
      if (!req.apply?.[device]) throw new Error(`plain HTTP (insecure) is asked for device ${device}, which is not applied to a registry; give its registry too`);
    }
    const insecureFor = (device: string) => req.insecure === true || (Array.isArray(req.insecure) && req.insecure.includes(device));
    const index = await readIndex(req.dir, bundleKey);
    for (const d of [...Object.keys(req.apply ?? {}), ...Object.keys(req.inbox ?? {})]) {
      if (!index.devices.some((x) => x.deviceId === d)) throw new Error(`device ${d} is not on this stick (it carries ${index.devices.map((x) => x.deviceId).join(', ')})`);
    }
    const stage = join(this.dataDir, 'usb', index.set.slice('sha256:'.length));
    // One byte count over the whole run: the stick's pieces read and staged, then each bundle
    // applied or copied. Every bundle of a device to serve counts from the start and those found
    // waiting for another stick are taken out after staging, so the bar only ever moves forward.
    const deviceBundles = (deviceId: string) => index.devices.find((x) => x.deviceId === deviceId)!.bundles.map((sha) => index.bundles.find((b) => b.sha256 === sha)!);
    const toServe = req.dryRun ? [] : [...Object.keys(req.apply ?? {}), ...Object.keys(req.inbox ?? {})].flatMap(deviceBundles);
    let total = index.bundles.flatMap((b) => b.pieces).filter((p) => p.stick === index.stick.number).reduce((n, p) => n + p.size, 0) + toServe.reduce((n, b) => n + b.size, 0);
    let done = 0;
    const check = await verifyAndStage(req.dir, index, stage, (n) => ctl.onProgress?.((done += n), total, 'verifying the stick'));
    checkCancelled(ctl, 'USB import');

    // Bundles whose every piece is staged (from this stick or one imported before) are whole.
    const whole = new Map<string, string>();
    for (const b of index.bundles) {
      const path = await this.assemble(b, stage);
      if (path) whole.set(b.sha256, path);
    }
    // Each whole bundle is checked as a device would before anything is applied.
    for (const [sha, path] of whole) {
      try {
        await (await openBundle(path, verifier)).verifyParts();
      } catch (err) {
        await fs.rm(path, { force: true });
        throw new UsbError('digest-mismatch', `bundle ${sha} passed the index but not its own checks: ${err instanceof Error ? err.message : String(err)}`);
      }
    }

    const report: ImportReport = { set: index.set, stick: index.stick, deployment: index.deployment, ignored: check.ignored, devices: [], receiptKey: null };
    const bySha = new Map(index.bundles.map((b) => [b.sha256, b]));
    for (const d of index.devices) {
      const via = req.apply?.[d.deviceId] ?? req.inbox?.[d.deviceId] ?? null;
      const action = req.apply?.[d.deviceId] ? 'apply' : req.inbox?.[d.deviceId] ? 'inbox' : 'none';
      report.devices.push({
        deviceId: d.deviceId,
        action,
        via,
        bundles: d.bundles.map((sha) => {
          const b = bySha.get(sha)!;
          const onSticks = [...new Set(b.pieces.map((p) => p.stick))].sort((x, y) => x - y);
          return {
            bundleId: b.bundleId,
            version: b.version,
            target: b.target.ref,
            base: b.base?.ref ?? null,
            outcome: whole.has(sha) ? 'planned' : 'waiting',
            ...(whole.has(sha) ? {} : { detail: `needs stick ${onSticks.join(' and ')} of ${index.stick.of}` }),
          };
        }),
      });
    }
    if (req.dryRun) return report;

    total -= toServe.filter((b) => !whole.has(b.sha256)).reduce((n, b) => n + b.size, 0);
    for (const dev of report.devices) {
      if (dev.action === 'none') continue;
      let blocked: string | null = null;
      for (const [i, b] of dev.bundles.entries()) {
        checkCancelled(ctl, 'USB import');
        const sb = deviceBundles(dev.deviceId)[i]!;
        if (blocked) {
          if (b.outcome !== 'waiting') Object.assign(b, { outcome: 'not-reached', detail: blocked });
          continue;
        }
        if (b.outcome === 'waiting') {
          blocked = `after bundle ${b.bundleId}, which ${b.detail}`;
          continue;
        }
        const path = whole.get(sb.sha256)!;
        const step = `${dev.action === 'inbox' ? 'copying into the inbox of' : 'applying to'} ${dev.deviceId}: ${b.target}`;
        const at = done;
        ctl.onProgress?.(done, total, step);
        if (dev.action === 'inbox') {
          await copyInto(path, join(dev.via!, `${sb.sha256.slice(7)}.bundle`), sb);
          b.outcome = 'copied';
          ctl.onProgress?.((done = at + sb.size), total, step);
          continue;
        }
        const r = await this.applyOne(dev.deviceId, dev.via!, sb, path, verifier, req.dir, insecureFor(dev.deviceId), ctl, (d, t) => ctl.onProgress?.(at + Math.floor((sb.size * d) / Math.max(t, 1)), total, step));
        ctl.onProgress?.((done = at + sb.size), total, step);
        report.receiptKey = r.keyId ?? report.receiptKey;
        Object.assign(b, { outcome: r.outcome, ...(r.detail ? { detail: r.detail } : {}), ...(r.receipt ? { receipt: r.receipt } : {}) });
        if (r.outcome === 'failed') blocked = `after bundle ${b.bundleId} failed`;
      }
    }
    return report;
  }

  /** The staged whole bundle, joined from its pieces once all are here; null while some are missing. */
  private async assemble(b: StickBundle, stage: string): Promise<string | null> {
    const path = join(stage, `${b.sha256.slice(7)}.bundle`);
    if (b.pieces.length === 1) return (await exists(join(stage, b.pieces[0]!.file))) ? path : null;
    if (await exists(path)) return path;
    for (const p of b.pieces) if (!(await exists(join(stage, p.file)))) return null;
    async function* joined() {
      for (const p of b.pieces) yield* createReadStream(join(stage, p.file));
    }
    await writeFileAtomic(path, Readable.from(joined()).pipe(new VerifyingStream(`bundle ${b.sha256}`, { digest: b.sha256, size: b.size })));
    for (const p of b.pieces) await fs.rm(join(stage, p.file), { force: true });
    return path;
  }

  private async applyOne(
    deviceId: string,
    registry: string,
    b: StickBundle,
    path: string,
    verifier: Awaited<ReturnType<typeof loadVerifier>>,
    stick: string,
    insecure: boolean,
    ctl: OperationControl,
    onProgress: (done: number, total: number) => void,
  ) {
    const stateDir = join(this.dataDir, 'usb-apply', deviceId.replace(/[^A-Za-z0-9._-]/g, '_'));
    const state = await ApplyState.open(stateDir);
    const last = await state.lastApplied();
    // The device's apply state is at this version or past it: done on an earlier import.
    if (last && last.version >= b.version) return { outcome: 'already-applied' as const, detail: `device is at version ${last.version} since ${last.appliedAt}`, keyId: null };
    const host = registry.replace(/^docker:\/\//, '').replace(/\/$/, '');
    const local = (ref: string) => {
      const n = parseImageName(ref);
      return `docker://${host}/${n.path}${n.tag ? `:${n.tag}` : ''}`;
    };
    const startedAt = new Date().toISOString();
    let outcome: 'applied' | 'failed' = 'applied';
    let reason: string | undefined;
    let message: string | undefined;
    try {
      await applyBundle({ bundle: path, verifier, from: b.base ? local(b.base.ref) : null, to: local(b.target.ref), stateDir, onProgress, ...(insecure ? { transport: { insecure } } : {}) });
    } catch (err) {
      // Cancelled mid-apply: no receipt (nothing was decided); the work area lets the next run resume.
      if (ctl.signal?.aborted) throw err;
      outcome = 'failed';
      reason = err instanceof BundleError ? err.code : isReadError(err) ? 'read-error' : /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|registry/i.test(String(err)) ? 'store-unavailable' : 'internal';
      message = (err instanceof Error ? err.message : String(err)).slice(0, 300);
    }
    const key = await loadOrCreateReceiptKey(this.dataDir);
    const body: Omit<ReceiptBody, 'signer'> = {
      format: 1,
      deviceId,
      moduleId: CREW_MODULE_ID,
      bundleId: b.bundleId,
      version: b.version,
      file: { name: `${b.sha256.slice(7)}.bundle`, sha256: b.sha256, size: b.size },
      result: outcome,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      ...(b.target.configDigest ? { target: { ref: b.target.ref, id: b.target.configDigest } } : {}),
      ...(b.base?.configDigest ? { base: { ref: b.base.ref, id: b.base.configDigest } } : {}),
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    const receipts = join(stick, RECEIPTS_DIR);
    await writeReceipt(receipts, key.sign(body));
    // The laptop's public key beside its receipts, for shore to enroll once (`lighter keys trust`).
    await writeFileAtomic(join(receipts, `signer-${key.keyId.slice(7, 23)}.pem`), key.publicKeyPem);
    return { outcome, detail: message, receipt: receiptFileName({ deviceId, bundleId: b.bundleId, version: b.version, file: body.file }), keyId: key.keyId };
  }
}

async function exists(path: string): Promise<boolean> {
  return (await fs.stat(path).catch(() => null))?.isFile() === true;
}

/** Copies a verified bundle into a device inbox, atomically and checked again on the way. */
async function copyInto(from: string, to: string, b: StickBundle): Promise<void> {
  await fs.mkdir(join(to, '..'), { recursive: true });
  await writeFileAtomic(to, createReadStream(from).pipe(new VerifyingStream(`bundle ${b.sha256}`, { digest: b.sha256, size: b.size })));
}
