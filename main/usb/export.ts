// `usb export`: writes what a deployment's plan says the chosen devices need onto one stick or a set
// of sticks (core/usb/stick.ts, docs/usb.md). Checks room up front, writes every file atomically and
// reads it back before it counts, skips files already complete (a killed export resumes), writes the
// signed index last, and records each stick and the transfers in the inventory.
import { createReadStream, promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../core/bundle/manifest.js';
import {
  BUNDLES_DIR,
  INDEX_FILE,
  indexSigningBytes,
  RECEIPTS_DIR,
  splitOverSticks,
  STICK_FORMAT,
  STICK_RESERVE,
  stickIndexSchema,
  UsbError,
  type Piece,
  type StickIndex,
} from '../../core/usb/stick.js';
import { sweepPartials, writeFileAtomic } from '../../io/atomic-file.js';
import { sha256 } from '../../io/digest.js';
import { loadSigner } from '../../io/keys.js';
import type { BundleStore } from '../deployments/bundle-store.js';
import type { Inventory } from '../inventory/store.js';
import { checkCancelled, type OperationControl } from '../../io/operation.js';
import { formatBytes, hashRange, mediaFacts } from './files.js';

export interface ExportRequest {
  deployment: number;
  /** the sticks' mount points (or stand-in directories), in stick order */
  to: string[];
  /** only these devices of the deployment; default all */
  devices?: string[];
  /** split the set over sticks of this many bytes */
  mediaSize?: number;
  /** write only this stick of the set (one at a time, through one port) */
  stick?: number;
  /** the bundle signing key (private), which signs the index */
  key: string;
}

export interface ExportReport {
  set: string;
  sticks: number;
  written: Array<{ stick: number; dir: string; files: number; skipped: number; bytes: number }>;
  devices: Array<{ deviceId: string; bundles: string[] }>;
}

export class UsbExporter {
  constructor(
    private readonly inventory: Inventory,
    private readonly store: BundleStore,
  ) {}

  async export(req: ExportRequest, ctl: OperationControl = {}): Promise<ExportReport> {
    if (req.to.length === 0) throw new Error('give at least one stick directory');
    const dep = this.inventory.deployment(req.deployment);
    let rows = this.inventory.deploymentBundles(req.deployment);
    if (req.devices) {
      for (const d of req.devices) if (!dep.devices.includes(d)) throw new Error(`device ${d} is not in deployment ${dep.name} (its devices: ${dep.devices.join(', ')})`);
      rows = rows.filter((r) => req.devices!.includes(r.deviceId));
    }
    if (rows.length === 0) throw new Error(`deployment ${dep.name} has no bundles for ${req.devices ? 'those devices' : 'its devices'}; run \`lighter deployment build ${dep.id}\` first (or every image is already there)`);
    const bundles = [...new Map(rows.map((r) => [r.sha256, r])).values()];
    for (const b of bundles) if (!(await this.store.has(b.sha256))) throw new Error(`bundle ${b.bundleId} (${b.sha256}) is not in the bundle store at ${this.store.dir}; build the deployment again`);
    const signer = await loadSigner(req.key);

    // How big a stick is: --media-size, else what the (single) stick can still take.
    const facts = await Promise.all(req.to.map(async (dir) => ({ dir, ...(await mediaFacts(dir).catch(() => { throw new Error(`stick directory ${dir} does not exist or is not readable`); })) })));
    const fileLimit = Math.min(...facts.map((f) => f.fileLimit));
    const already = async (dir: string) => {
      let n = 0;
      for (const b of bundles) {
        const st = await fs.stat(join(dir, BUNDLES_DIR, `${b.sha256.slice(7)}.bundle`)).catch(() => null);
        if (st?.size === b.size) n += b.size;
      }
      return n;
    };
    const capacity = req.mediaSize ?? facts[0]!.free + (await already(facts[0]!.dir));
    const split = splitOverSticks({ bundles: bundles.map((b) => ({ sha256: b.sha256, size: b.size })), capacity: capacity - STICK_RESERVE, fileLimit });
    const total = bundles.reduce((n, b) => n + b.size, 0);
    if (req.mediaSize === undefined && split.sticks > 1) {
      throw new UsbError('too-small', `${facts[0]!.dir} has room for ${formatBytes(capacity)}; the set is ${formatBytes(total + STICK_RESERVE)}: ${formatBytes(total + STICK_RESERVE - capacity)} missing (give --media-size to split it over several sticks)`);
    }
    const targets = this.targets(req, split.sticks, facts.map((f) => f.dir));

    // Every piece's sha256, so the index can say it before any byte is written.
    for (const b of bundles) {
      const pieces = split.pieces.get(b.sha256)!;
      for (const p of pieces) p.sha256 = pieces.length === 1 ? b.sha256 : await hashRange(this.store.pathOf(b.sha256), p.offset, p.size);
    }
    const devices = [...new Set(rows.map((r) => r.deviceId))].sort().map((deviceId) => ({ deviceId, bundles: rows.filter((r) => r.deviceId === deviceId).sort((a, b) => a.position - b.position).map((r) => r.sha256) }));
    const content = {
      deployment: { id: dep.id, name: dep.name },
      devices,
      bundles: bundles.map((b) => ({ bundleId: b.bundleId, sha256: b.sha256, size: b.size, pieces: split.pieces.get(b.sha256)!.map(({ file, size, sha256: s, stick }) => ({ file, size, sha256: s, stick })) })),
    };
    const set = sha256(canonicalJson(content));

    // Room on every stick about to be written, checked before writing anything.
    for (const t of targets) {
      const mine = bundles.flatMap((b) => split.pieces.get(b.sha256)!.filter((p) => p.stick === t.stick));
      let need = STICK_RESERVE;
      for (const p of mine) {
        const st = await fs.stat(join(t.dir, BUNDLES_DIR, p.file)).catch(() => null);
        if (st?.size !== p.size) need += p.size;
      }
      const { free } = await mediaFacts(t.dir);
      if (free < need) throw new UsbError('too-small', `stick ${t.stick} of ${split.sticks} (${t.dir}) has ${formatBytes(free)} free; it needs ${formatBytes(need)}: ${formatBytes(need - free)} missing`);
    }

    const report: ExportReport = { set, sticks: split.sticks, written: [], devices };
    const bytesToWrite = targets.reduce((n, t) => n + bundles.flatMap((b) => split.pieces.get(b.sha256)!).filter((p) => p.stick === t.stick).reduce((m, p) => m + p.size, 0), 0);
    let done = 0;
    for (const t of targets) {
      const index: StickIndex = stickIndexSchema.parse({
        format: STICK_FORMAT,
        set,
        stick: { number: t.stick, of: split.sticks },
        deployment: content.deployment,
        exporter: { actor: this.inventory.actor, host: hostname() },
        createdAt: new Date().toISOString(),
        bundles: bundles.map((b) => ({ bundleId: b.bundleId, sha256: b.sha256, size: b.size, version: b.version, target: b.target, base: b.base, pieces: split.pieces.get(b.sha256)! })),
        devices,
        signer: signer.keyId,
      });
      const w = await this.writeStick(t.dir, index, t.stick, signer, (n) => {
        done += n;
        ctl.onProgress?.(done, bytesToWrite);
      }, ctl);
      report.written.push({ stick: t.stick, dir: t.dir, ...w });
      this.inventory.recordStickWritten({
        setId: set,
        stick: t.stick,
        sticks: split.sticks,
        deploymentId: dep.id,
        bytes: w.bytes,
        pairs: rows.map((r) => ({ deviceId: r.deviceId, bundleId: r.bundleId, size: r.size, target: { name: r.target.ref, configDigest: r.target.configDigest }, onSticks: [...new Set(split.pieces.get(r.sha256)!.map((p) => p.stick))] })),
      });
    }
    return report;
  }

  private targets(req: ExportRequest, sticks: number, dirs: string[]): Array<{ stick: number; dir: string }> {
    if (req.stick !== undefined) {
      if (dirs.length !== 1) throw new Error('--stick writes one stick: give --to once');
      if (req.stick < 1 || req.stick > sticks) throw new UsbError('too-many-sticks', `the set has ${sticks} stick(s); there is no stick ${req.stick}`);
      return [{ stick: req.stick, dir: dirs[0]! }];
    }
    if (dirs.length !== sticks) {
      throw new UsbError('too-many-sticks', `the set needs ${sticks} stick(s) of ${formatBytes(req.mediaSize ?? 0)}; give --to ${sticks} times, or write them one at a time with --stick 1..${sticks}`);
    }
    return dirs.map((dir, i) => ({ stick: i + 1, dir }));
  }

  /** Writes one stick: its pieces (skipping complete ones), then the signed index, all read back. */
  private async writeStick(dir: string, index: StickIndex, stick: number, signer: Awaited<ReturnType<typeof loadSigner>>, onBytes: (n: number) => void, ctl: OperationControl) {
    const bundlesDir = join(dir, BUNDLES_DIR);
    await fs.mkdir(bundlesDir, { recursive: true });
    await fs.mkdir(join(dir, RECEIPTS_DIR), { recursive: true });
    await sweepPartials(bundlesDir);
    const mine = index.bundles.flatMap((b) => b.pieces.filter((p) => p.stick === stick).map((p) => ({ bundle: b.sha256, piece: p })));
    // lighter/bundles is Lighter's: files of an earlier set would be "unexpected" at import.
    const keep = new Set(mine.map((m) => m.piece.file));
    for (const name of await fs.readdir(bundlesDir)) if (!keep.has(name)) await fs.rm(join(bundlesDir, name), { recursive: true, force: true });
    let files = 0;
    let skipped = 0;
    let bytes = 0;
    for (const { bundle, piece } of mine) {
      checkCancelled(ctl, 'USB export');
      const path = join(bundlesDir, piece.file);
      if (await complete(path, piece)) {
        skipped++;
        onBytes(piece.size);
        continue;
      }
      await writeFileAtomic(path, rangeStream(this.store.pathOf(bundle), piece), async (tmp) => {
        const got = await hashRange(tmp, 0, piece.size);
        const st = await fs.stat(tmp);
        if (st.size !== piece.size || got !== piece.sha256) throw new Error(`${path} read back as ${st.size} bytes ${got}, not ${piece.size} bytes ${piece.sha256}: the stick is failing`);
      });
      files++;
      bytes += piece.size;
      onBytes(piece.size);
    }
    const signed = `${JSON.stringify({ index, signature: Buffer.from(signer.sign(indexSigningBytes(index))).toString('base64') }, null, 1)}\n`;
    await writeFileAtomic(join(dir, INDEX_FILE), signed, async (tmp) => {
      if ((await fs.readFile(tmp, 'utf8')) !== signed) throw new Error(`${join(dir, INDEX_FILE)} did not read back as written: the stick is failing`);
    });
    return { files, skipped, bytes };
  }
}

function rangeStream(path: string, p: Piece) {
  return createReadStream(path, { start: p.offset, end: p.offset + p.size - 1 });
}

/** A file an earlier (killed) export finished: the right size and hash. Anything else is rewritten. */
async function complete(path: string, p: Piece): Promise<boolean> {
  const st = await fs.lstat(path).catch(() => null);
  if (!st?.isFile() || st.size !== p.size) return false;
  return (await hashRange(path, 0, p.size)) === p.sha256;
}

