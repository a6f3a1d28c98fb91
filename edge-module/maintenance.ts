// `lighter edge restore` and `lighter edge prune`: the store of record put back into a wiped
// Docker engine with no network, and the store trimmed to what the deployment and the queue need.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { decodePreamble, PREAMBLE_BYTES } from '../core/bundle/format.js';
import { parseManifest } from '../core/bundle/manifest.js';
import { dockerLoad } from './apply-file.js';
import { isCandidateName } from './inbox.js';
import { currentDeployment } from './installed.js';
import type { Store } from './store.js';

export interface RestoreResult {
  restored: Array<{ ref: string; id: string }>;
  /** deployment images the store does not hold (they need a bundle) */
  missing: string[];
}

/** Loads every image of the current deployment from the store into Docker. */
export async function restore(store: Store, stateDir: string, opts: { deployment?: string; dockerSocket?: string; log: (line: string) => void }): Promise<RestoreResult> {
  const { current } = await currentDeployment(stateDir, opts.deployment);
  const images = await store.images();
  const out: RestoreResult = { restored: [], missing: [] };
  for (const ref of current) {
    const img = images.find((i) => i.ref === ref);
    if (!img) {
      out.missing.push(ref);
      opts.log(`${ref}: not in the store`);
      continue;
    }
    await dockerLoad(store, ref, img.id, opts.dockerSocket);
    out.restored.push({ ref, id: img.id });
    opts.log(`${ref}: ${img.id} in Docker as ${store.host}/${ref}`);
  }
  return out;
}

/** Config digests of the bases the bundles waiting in the inbox start from (unverified claims: keeping more is safe). */
async function queuedBases(inbox: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const name of await fs.readdir(inbox).catch(() => [] as string[])) {
    if (!isCandidateName(name)) continue;
    try {
      const fh = await fs.open(join(inbox, name), 'r');
      try {
        const pre = Buffer.alloc(PREAMBLE_BYTES);
        await fh.read(pre, 0, PREAMBLE_BYTES, 0);
        const m = Buffer.alloc(decodePreamble(pre).manifestLength);
        await fh.read(m, 0, m.length, PREAMBLE_BYTES);
        for (const e of parseManifest(m).entries) if (e.base) out.add(e.base.configDigest);
      } finally {
        await fh.close();
      }
    } catch {
      // not a readable bundle: it needs no base
    }
  }
  return out;
}

export interface PruneResult {
  removed: string[];
  kept: string[];
  /** bytes of blobs no remaining image references (the registry frees them at garbage collection) */
  freedBytes: number;
}

/**
 * Removes store images the current deployment does not use and no queued bundle needs as a base;
 * with keepPrevious (the default) the version before each current image stays too.
 */
export async function prune(store: Store, stateDir: string, opts: { inbox?: string; deployment?: string; keepPrevious: boolean; dryRun?: boolean; log: (line: string) => void }): Promise<PruneResult> {
  const deployment = await currentDeployment(stateDir, opts.deployment);
  const keepRefs = new Set([...deployment.current, ...(opts.keepPrevious ? deployment.previous : [])]);
  const bases = opts.inbox ? await queuedBases(opts.inbox) : new Set<string>();
  const images = await store.images();
  const keep = images.filter((i) => keepRefs.has(i.ref) || bases.has(i.id));
  // A registry deletes manifests, not tags: one shared with a kept tag of its repository has to stay.
  const keptManifests = new Set(keep.map((i) => `${i.repository}@${i.manifestDigest}`));
  const remove = images.filter((i) => !keep.includes(i) && !keptManifests.has(`${i.repository}@${i.manifestDigest}`));
  const keptBlobs = new Set(images.filter((i) => !remove.includes(i)).flatMap((i) => i.blobs.map((b) => b.digest)));
  const freed = new Map<string, number>();
  for (const i of remove) for (const b of i.blobs) if (!keptBlobs.has(b.digest)) freed.set(b.digest, b.size);
  const removedManifests = new Set<string>();
  for (const i of remove) {
    if (!opts.dryRun && !removedManifests.has(`${i.repository}@${i.manifestDigest}`)) {
      await store.client(i.repository).deleteManifest(i.manifestDigest);
      removedManifests.add(`${i.repository}@${i.manifestDigest}`);
    }
    opts.log(`${opts.dryRun ? 'would remove' : 'removed'} ${i.ref} ${i.id}`);
  }
  return { removed: remove.map((i) => i.ref), kept: images.filter((i) => !remove.includes(i)).map((i) => i.ref), freedBytes: [...freed.values()].reduce((a, b) => a + b, 0) };
}
