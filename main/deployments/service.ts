// Deployments as the shore engineer works them: create (manifest, devices, who ordered it),
// build (plan, then each distinct (base, target) bundle once, verified by rebuilding, kept in the
// content-addressed bundle store, and which device needs which bundle recorded), show.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import type { BuildReport as BuildSummary, BuiltBundle, DeploymentView, deploymentsRequests } from '../../contract/index.js';
import { formatImageName } from '../../core/deployment/image-name.js';
import { parseManifest } from '../../core/deployment/manifest.js';
import { plan, type Plan, type PlannedBundle } from '../../core/plan/plan.js';
import { verifyByRebuild } from '../../io/bundle/apply.js';
import { buildBundle } from '../../io/bundle/build.js';
import { openBundle } from '../../io/bundle/reader.js';
import { writeFileAtomic } from '../../io/atomic-file.js';
import { makeScratchDir } from '../../io/scratch.js';
import { loadSigner } from '../../io/keys.js';
import type { DeploymentRecord, Inventory } from '../inventory/store.js';
import { checkCancelled, type OperationControl } from '../../io/operation.js';
import type { BundleStore } from './bundle-store.js';

/** What `deployments.create` takes (its defaults not yet applied). */
export type CreateRequest = z.input<typeof deploymentsRequests.create>;

export interface BuildReport extends BuildSummary {
  plan: Plan;
}

export class DeploymentService {
  constructor(
    private readonly inventory: Inventory,
    private readonly store: BundleStore,
    private readonly options: { creator: string; tmpDir?: string } = { creator: 'lighter' },
  ) {}

  create(req: CreateRequest): number {
    parseManifest(req.manifestJson);
    if (!req.devices === !req.group) throw new Error('give either devices or a group, not both or neither');
    const devices = req.group ? this.inventory.devicesInGroup(req.group).map((d) => d.id) : [...new Set(req.devices)];
    return this.inventory.createDeployment({
      name: req.name,
      manifestJson: req.manifestJson,
      orderedBy: req.orderedBy,
      devices,
      priority: req.priority ?? 0,
      dueAt: req.dueAt ?? null,
    });
  }

  /** The plan as the inventory stands now: what each device needs and the bundles that serve it. */
  plan(id: number): Plan {
    const dep = this.inventory.deployment(id);
    const manifest = parseManifest(dep.manifestJson);
    return plan({
      modules: manifest.modules,
      devices: dep.devices.map((d) => this.inventory.planDevice(d)),
      lookup: (n) => this.inventory.knownImage(formatImageName(n)),
    });
  }

  async build(id: number, keyFile: string, ctl: OperationControl = {}): Promise<BuildReport> {
    const dep = this.inventory.deployment(id);
    if (dep.state === 'cancelled' || dep.state === 'pushed') throw new Error(`deployment ${dep.name} is ${dep.state}; nothing to build`);
    const p = this.plan(id);
    if (p.bundles.length === 0) return { deployment: id, upToDate: true, bundles: [], plan: p };
    const signer = await loadSigner(keyFile);
    const total = p.bundles.length * 1000;
    const results: BuiltBundle[] = [];
    for (const [i, b] of p.bundles.entries()) {
      checkCancelled(ctl, `build of deployment ${dep.name}`);
      const step = (done: number, of: number) => ctl.onProgress?.(i * 1000 + (of > 0 ? Math.floor((done / of) * 999) : 0), total);
      results.push(await this.buildOne(b, signer, step, ctl));
      ctl.onProgress?.((i + 1) * 1000, total);
    }
    // Each device applies its bundles oldest version first (its anti-rollback state needs that).
    const rows = p.devices.flatMap((d) =>
      results
        .filter((r) => r.devices.includes(d.deviceId))
        .sort((a, b) => a.version - b.version)
        .map((r) => ({ deviceId: d.deviceId, bundleId: r.bundleId, target: { name: r.target, configDigest: r.targetDigest } })),
    );
    this.inventory.planDeployment(id, rows);
    return { deployment: id, upToDate: false, bundles: results, plan: p };
  }

  private async buildOne(b: PlannedBundle, signer: Awaited<ReturnType<typeof loadSigner>>, onProgress: (done: number, total: number) => void, ctl: OperationControl): Promise<BuiltBundle> {
    const baseDigest = b.base?.configDigest ?? null;
    if (b.target.configDigest) {
      for (const existing of [this.inventory.findBundle(baseDigest, b.target.configDigest), this.inventory.findBundle(null, b.target.configDigest)]) {
        if (existing && (await this.store.has(existing.sha256))) {
          return { bundleId: existing.id, sha256: existing.sha256, size: existing.size, version: existing.version, base: b.base?.ref ?? null, target: b.target.ref, targetDigest: b.target.configDigest, devices: b.devices, built: false, verified: 'earlier-build' };
        }
      }
    }
    const targetRef = this.inventory.imageSource(b.target) ?? `docker://${b.target.ref}`;
    const baseRef = b.base ? this.inventory.imageSource(b.base) : null;
    const work = await makeScratchDir('lighter-deploy-', this.options.tmpDir);
    const scratch = this.store.scratchPath();
    try {
      // A base known only by its signature (what the device holds) still lets layers be reused.
      const fromSignatures: string[] = [];
      if (b.base && !baseRef) {
        const sig = this.inventory.knownImage(b.base.ref)?.signature;
        if (sig) {
          const file = join(work, 'base-signature.json');
          await writeFileAtomic(file, JSON.stringify(sig));
          fromSignatures.push(file);
        }
      }
      const version = this.inventory.nextBundleVersion();
      const result = await buildBundle({
        to: targetRef,
        from: baseRef ? [baseRef] : [],
        fromSignatures,
        signer,
        out: scratch,
        version,
        creator: this.options.creator,
        repoTag: b.target.ref,
        tmpDir: work,
        // the diff is most of the work; checking the stored parts again is the rest
        onProgress: (done, total) => onProgress(total > 0 ? (0.8 * done) / total : 0, 1),
      });
      checkCancelled(ctl, 'bundle build');
      const entry = result.manifest.entries[0]!;
      // Proven again from the stored file, as a device will read it: signature, parts, rebuild.
      const opened = await openBundle(scratch, signer.verifier);
      await opened.verifyParts((done, total) => onProgress(0.8 + (total > 0 ? (0.2 * done) / total : 0), 1));
      const usedBaseBytes = entry.base !== null && result.base === baseRef && baseRef !== null;
      if (usedBaseBytes || entry.base === null) await verifyByRebuild(opened, usedBaseBytes ? baseRef : null);
      const { sha256, size } = await this.store.adopt(scratch);
      const baseImage = entry.base && b.base ? { name: b.base.ref, configDigest: entry.base.configDigest } : null;
      this.inventory.recordBundle({ id: result.manifest.id, version, size, sha256, entries: [{ base: baseImage, target: { name: b.target.ref, configDigest: entry.target.configDigest, sourceRef: targetRef } }] });
      this.inventory.setBundleState(result.manifest.id, 'verified', usedBaseBytes || entry.base === null ? 'rebuilt from the base image' : 'rebuilt at build against the base signature');
      return {
        bundleId: result.manifest.id,
        sha256,
        size,
        version,
        base: entry.base ? (b.base?.ref ?? null) : null,
        target: b.target.ref,
        targetDigest: entry.target.configDigest,
        devices: b.devices,
        built: true,
        verified: usedBaseBytes || entry.base === null ? 'rebuilt-from-base' : 'rebuilt-at-build',
      };
    } finally {
      await fs.rm(scratch, { force: true });
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  show(id: number): DeploymentView & Pick<DeploymentRecord, 'manifestJson'> {
    return { ...this.inventory.deployment(id), gate: this.inventory.deploymentGate(id), bundles: this.inventory.deploymentBundles(id) };
  }

  /** The stored file of a bundle, by its sha256. */
  bundlePath(sha256: string): string {
    return this.store.pathOf(sha256);
  }
}
