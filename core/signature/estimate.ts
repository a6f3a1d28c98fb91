// Estimates how many bytes a patch from some base images to a target will take, from signatures
// alone (no image bytes). Used to rank candidate bases for a target, by `lighter bundle build` and
// by the planner. The figures follow the delta engine's strategy (DESIGN.md, "Delta engine"):
// layers the device has cost nothing, content it has anywhere is copied by reference, a file that
// changed at the same path becomes a binary delta, everything else is compressed literal data.
// The constants are calibrated on the benchmark corpus (docs/bundle-format.md, "Estimates").
import type { ImageSignature } from './types.js';

/** Bytes a tar header costs when encoded against a base header (mostly mtime and size changes). */
const HEADER_BYTES = 6;
/** Bytes to reference content the base already has (offset + length, after compression). */
const COPY_BYTES = 4;
/** Share of a changed file's (compressed) size its binary delta typically takes. */
const CHANGED_FRACTION = 0.25;
/** Compressed size of new literal data per byte (brotli on typical image content). */
const LITERAL_RATIO = 0.3;
/** Fixed cost of a changed layer in the patch (its index entry, digests, stream framing). */
const LAYER_BYTES = 128;

interface BaseIndex {
  diffIDs: Set<string>;
  hashes: Set<string>;
  /** path -> largest size seen at that path in any base layer */
  pathSizes: Map<string, number>;
}

function indexBases(bases: ImageSignature[]): BaseIndex {
  const index: BaseIndex = { diffIDs: new Set(), hashes: new Set(), pathSizes: new Map() };
  for (const base of bases) {
    for (const layer of base.layers) {
      index.diffIDs.add(layer.diffID);
      for (const f of layer.files) {
        if (f.hash) index.hashes.add(f.hash);
        index.pathSizes.set(f.path, Math.max(f.size, index.pathSizes.get(f.path) ?? 0));
      }
    }
  }
  return index;
}

function estimateWith(index: BaseIndex, target: ImageSignature): number {
  let total = 0;
  const seen = new Set<string>();
  for (const layer of target.layers) {
    // A layer the device has, or one this target already carries, is never sent twice.
    if (index.diffIDs.has(layer.diffID) || seen.has(layer.diffID)) continue;
    seen.add(layer.diffID);
    total += LAYER_BYTES;
    for (const f of layer.files) {
      total += HEADER_BYTES;
      if (!f.hash || f.size === 0) continue; // directories, links, whiteouts: the header is all
      if (index.hashes.has(f.hash)) {
        total += COPY_BYTES;
        continue;
      }
      const literal = f.size * LITERAL_RATIO;
      const baseSize = index.pathSizes.get(f.path);
      if (baseSize === undefined) {
        total += literal;
      } else {
        // Growth is mostly new data; the rest of the file diffs against the old one.
        const grown = Math.max(0, f.size - baseSize);
        total += Math.min(literal, (f.size - grown) * LITERAL_RATIO * CHANGED_FRACTION + grown * LITERAL_RATIO);
      }
    }
  }
  return Math.round(total);
}

/** Estimated patch bytes to turn what `bases` hold into `target`. `bases` empty = the full image. */
export function estimatePatchBytes(bases: ImageSignature[], target: ImageSignature): number {
  return estimateWith(indexBases(bases), target);
}

export interface BaseCandidate<K> {
  /** the caller's handle for this candidate (a ref, a device image id, ...) */
  key: K;
  /** the images the patch may draw on (one image, or everything a device holds) */
  bases: ImageSignature[];
}

export interface RankedCandidate<K> extends BaseCandidate<K> {
  estimate: number;
}

/**
 * Ranks candidates by estimated patch size, smallest first (ties keep the given order). Include a
 * candidate with no bases to weigh shipping the full image against the others.
 */
export function rankBases<K>(candidates: BaseCandidate<K>[], target: ImageSignature): RankedCandidate<K>[] {
  return candidates
    .map((c, i) => ({ ...c, estimate: estimatePatchBytes(c.bases, target), i }))
    .sort((a, b) => a.estimate - b.estimate || a.i - b.i)
    .map(({ i: _i, ...ranked }) => ranked);
}
