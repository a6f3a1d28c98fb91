// The planner: from a deployment manifest and what the inventory knows each device holds, decide
// per device which images it needs, which it has, the base each missing image is built from, and
// the fewest distinct (base, target) bundles that serve the whole fleet. Pure: the inventory and the
// patch-size estimator are passed in.
import type { ImageName } from '../deployment/image-name.js';
import { repositoryOf } from '../deployment/image-name.js';
import type { ModuleImage } from '../deployment/manifest.js';
import { estimatePatchBytes } from '../signature/estimate.js';
import type { ImageSignature } from '../signature/types.js';

import type { DeviceImageState } from '../states.js';

export type { DeviceImageState };

export interface KnownImage {
  /** registry/path, as repositoryOf() gives it */
  repository: string;
  tag: string | null;
  configDigest: string | null;
  signature: ImageSignature | null;
}

export interface PlanDevice {
  id: string;
  images: Array<{ image: KnownImage; state: DeviceImageState }>;
}

export type Estimator = (bases: ImageSignature[], target: ImageSignature) => number;

export interface PlanInput {
  modules: ModuleImage[];
  devices: PlanDevice[];
  /** what the inventory knows of an image a manifest names (its config digest and signature) */
  lookup(name: ImageName): KnownImage | undefined;
  estimate?: Estimator;
  /**
   * A base within this fraction of a device's best estimate counts as just as good, so that devices
   * can share one bundle instead of each getting its own marginally smaller one. Default 0.1.
   */
  slack?: number;
}

export interface ImageIdentity {
  ref: string;
  configDigest: string | null;
}

export interface NeededImage {
  modules: string[];
  image: string;
  status: 'present' | 'in_transit' | 'missing';
  /** for missing images: the chosen base (null: the full image is sent) */
  base: ImageIdentity | null;
  estimatedBytes: number | null;
  /** for missing images: key of the bundle in Plan.bundles */
  bundle: string | null;
}

export interface DevicePlan {
  deviceId: string;
  images: NeededImage[];
}

export interface PlannedBundle {
  key: string;
  base: ImageIdentity | null;
  target: ImageIdentity;
  devices: string[];
  /** estimated size (the largest of its devices' estimates; they are the same pair, so equal) */
  estimatedBytes: number | null;
}

export interface Plan {
  devices: DevicePlan[];
  bundles: PlannedBundle[];
}

const refOf = (i: KnownImage) => `${i.repository}${i.tag ? `:${i.tag}` : ''}`;
const keyOf = (i: KnownImage) => i.configDigest ?? refOf(i);
const identityOf = (i: KnownImage): ImageIdentity => ({ ref: refOf(i), configDigest: i.configDigest });

function matches(held: KnownImage, want: KnownImage): boolean {
  if (held.configDigest && want.configDigest) return held.configDigest === want.configDigest;
  return held.repository === want.repository && held.tag === want.tag;
}

interface Candidate {
  key: string; // base key, '' for "no base"
  base: KnownImage | null;
  estimate: number | null;
}

// Exact search is affordable up to this many distinct candidate bases for one target.
const EXACT_LIMIT = 12;

/**
 * Picks the fewest bases so every device gets one of its acceptable candidates; among covers of that
 * size, the one with the smallest total estimate. Exact for small candidate sets, greedy beyond.
 */
function chooseBases(options: Map<string, Candidate[]>): Map<string, Candidate> {
  const keys = [...new Set([...options.values()].flatMap((cs) => cs.map((c) => c.key)))].sort();
  const assign = (chosen: Set<string>): { cost: number; pick: Map<string, Candidate> } | null => {
    let cost = 0;
    const pick = new Map<string, Candidate>();
    for (const [device, cs] of options) {
      const best = cs.filter((c) => chosen.has(c.key)).sort((a, b) => (a.estimate ?? 0) - (b.estimate ?? 0))[0];
      if (!best) return null;
      cost += best.estimate ?? 0;
      pick.set(device, best);
    }
    return { cost, pick };
  };
  if (keys.length <= EXACT_LIMIT) {
    let best: { size: number; cost: number; pick: Map<string, Candidate> } | null = null;
    for (let mask = 1; mask < 1 << keys.length; mask++) {
      const chosen = new Set(keys.filter((_, i) => mask & (1 << i)));
      if (best && chosen.size > best.size) continue;
      const r = assign(chosen);
      if (r && (!best || chosen.size < best.size || r.cost < best.cost)) best = { size: chosen.size, ...r };
    }
    return best!.pick;
  }
  const chosen = new Set<string>();
  const uncovered = new Set(options.keys());
  while (uncovered.size > 0) {
    let top = '';
    let topCount = -1;
    for (const k of keys) {
      const n = [...uncovered].filter((d) => options.get(d)!.some((c) => c.key === k)).length;
      if (n > topCount) [top, topCount] = [k, n];
    }
    chosen.add(top);
    for (const d of [...uncovered]) if (options.get(d)!.some((c) => c.key === top)) uncovered.delete(d);
  }
  return assign(chosen)!.pick;
}

export function plan(input: PlanInput): Plan {
  const estimate = input.estimate ?? estimatePatchBytes;
  const slack = input.slack ?? 0.1;
  // One entry per distinct image, whichever modules use it.
  const targets = new Map<string, { image: string; modules: string[]; known: KnownImage }>();
  for (const m of input.modules) {
    const known = input.lookup(m.name) ?? { repository: repositoryOf(m.name), tag: m.name.tag, configDigest: null, signature: null };
    const key = keyOf(known);
    const t = targets.get(key);
    if (t) t.modules.push(m.module);
    else targets.set(key, { image: m.image, modules: [m.module], known });
  }

  const devices: DevicePlan[] = input.devices.map((d) => ({ deviceId: d.id, images: [] }));
  const bundles = new Map<string, PlannedBundle>();
  for (const [targetKey, t] of targets) {
    const options = new Map<string, Candidate[]>();
    const entries = new Map<string, NeededImage>();
    input.devices.forEach((d, i) => {
      const held = d.images.filter((h) => matches(h.image, t.known));
      const status = held.some((h) => h.state === 'present' || h.state === 'applied')
        ? 'present'
        : held.some((h) => h.state === 'in_transit')
          ? 'in_transit'
          : 'missing';
      const entry: NeededImage = { modules: t.modules, image: t.image, status, base: null, estimatedBytes: null, bundle: null };
      devices[i]!.images.push(entry);
      if (status !== 'missing') return;
      entries.set(d.id, entry);
      const bases = d.images.filter((h) => h.state === 'present' || h.state === 'applied').map((h) => h.image);
      let cands: Candidate[];
      if (t.known.signature) {
        const target = t.known.signature;
        cands = [{ key: '', base: null, estimate: estimate([], target) }];
        for (const b of bases) if (b.signature) cands.push({ key: keyOf(b), base: b, estimate: estimate([b.signature], target) });
        const best = Math.min(...cands.map((c) => c.estimate!));
        cands = cands.filter((c) => c.estimate! <= best + best * slack);
      } else {
        // Without a target signature nothing can be weighed: an older tag of the same repository is
        // the likeliest good base.
        const same = bases.filter((b) => b.repository === t.known.repository);
        cands = same.length > 0 ? same.map((b) => ({ key: keyOf(b), base: b, estimate: null })) : [{ key: '', base: null, estimate: null }];
      }
      options.set(d.id, cands);
    });
    if (options.size === 0) continue;
    for (const [deviceId, c] of chooseBases(options)) {
      const key = `${c.key || 'none'} -> ${targetKey}`;
      const entry = entries.get(deviceId)!;
      entry.base = c.base ? identityOf(c.base) : null;
      entry.estimatedBytes = c.estimate;
      entry.bundle = key;
      const b = bundles.get(key) ?? { key, base: entry.base, target: identityOf(t.known), devices: [], estimatedBytes: c.estimate };
      b.devices.push(deviceId);
      bundles.set(key, b);
    }
  }
  return { devices, bundles: [...bundles.values()] };
}
