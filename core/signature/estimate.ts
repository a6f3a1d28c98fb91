// Estimates how many bytes a bundle from some base images to a target will take, from signatures
// alone (no image bytes). Used to rank candidate bases for a target, by `lighter bundle build` and
// by the planner, and shown to users as the plan's byte figures. The model follows the delta
// engine (DESIGN.md, "Delta engine"): layers the device has cost nothing, content it has anywhere is
// copied by reference, a file changed at the same path costs the share of it its old version lacks
// (the files' sketches, core/signature/sketch.ts), everything else is compressed literal data. The
// constants are calibrated on the benchmark corpus (docs/bundle-format.md, "Estimates").
import { decodeSamples, missingShare, type ContentSketch } from './sketch.js';
import type { FileFingerprint, ImageSignature } from './types.js';

/** A bundle's fixed cost: its manifest, signature and the patch header with the target's config. */
const BUNDLE_BYTES = 5_500;
/** Fixed cost of a carried layer in the patch (its index entry, digests, section framing). */
const LAYER_BYTES = 128;
/** An entry at a path a base layer has: its header codes against the base's, to almost nothing. */
const KEPT_ENTRY_BYTES = 0.3;
/** An entry at a new path: its name and header fields, compressed with its neighbours'. */
const NEW_ENTRY_BYTES = 8;
/** Content the base has at another path: a reference (offset and length, compressed). */
const COPY_BYTES = 4;
/** A changed file too small to sketch (or from a version 1 signature): its delta costs about this share of its packed size, besides its growth. */
const SMALL_CHANGE_SHARE = 0.3;
/** What a changed region of compressible content costs of its packed size (see changedShare). */
const CHANGED_SHARE_LOW = 0.47;
/** Version 1 signatures carry no packed sizes: brotli's typical ratio on image content. */
const V1_PACKED_RATIO = 0.3;

interface BaseIndex {
  diffIDs: Set<string>;
  hashes: Set<string>;
  /** path -> the largest file at that path in any base layer */
  paths: Map<string, FileFingerprint>;
}

function indexBases(bases: ImageSignature[]): BaseIndex {
  const index: BaseIndex = { diffIDs: new Set(), hashes: new Set(), paths: new Map() };
  for (const base of bases) {
    for (const layer of base.layers) {
      index.diffIDs.add(layer.diffID);
      for (const f of layer.files) {
        if (f.hash) index.hashes.add(f.hash);
        if (f.size >= (index.paths.get(f.path)?.size ?? 0)) index.paths.set(f.path, f);
      }
    }
  }
  return index;
}

/** Decoded sketches by fingerprint: the planner prices the same signatures for every device and candidate. */
const decoded = new WeakMap<FileFingerprint, ContentSketch | null>();

function sketchOf(f: FileFingerprint): ContentSketch | null {
  let sketch = decoded.get(f);
  if (sketch === undefined) {
    sketch = f.sketch !== undefined && f.sketchBits !== undefined ? { rateBits: f.sketchBits, samples: decodeSamples(f.sketch) } : null;
    decoded.set(f, sketch);
  }
  return sketch;
}

/**
 * What the patch's literal coder (brotli 10–11 with a 16 MiB window) reaches on content the gauge
 * (brotli 3, io/bundle/content-features.ts) packs to `packedRatio` of its size: about a third less
 * on compressible content, nothing less on content that does not compress (packed media, .deb
 * archives, random data).
 */
function literalFactor(packedRatio: number): number {
  return 0.68 + 0.32 * Math.min(1, Math.max(0, (packedRatio - 0.6) / 0.4));
}

/**
 * How much of a changed region's packed size its delta costs: a changed stretch of compressible
 * content (code, text) still shares most of its structure with the old version, which the delta's
 * difference stream (and, for executables, the reference prediction) exploits; random data
 * (packed/size near 1) shares nothing.
 */
function changedShare(packedRatio: number): number {
  return CHANGED_SHARE_LOW + (1 - CHANGED_SHARE_LOW) * Math.min(1, Math.max(0, (packedRatio - 0.3) / 0.7));
}

/** Bytes to carry file `f` of a target layer, given the base file at its path (if any). */
function fileBytes(f: FileFingerprint, old: FileFingerprint | undefined): number {
  const ratio = (f.packed ?? f.size * V1_PACKED_RATIO) / f.size;
  const packed = f.size * ratio * literalFactor(ratio);
  if (!old?.hash) return packed;
  const a = sketchOf(old);
  const b = sketchOf(f);
  const missing = a && b ? missingShare(a, b) : null;
  if (missing === null) {
    // Without sketches, growth is taken for new data and the rest for an edit of the old file.
    const grown = Math.max(0, f.size - old.size) / f.size;
    return packed * (grown + (1 - grown) * SMALL_CHANGE_SHARE);
  }
  return packed * missing * changedShare(ratio);
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
      const old = index.paths.get(f.path);
      total += old ? KEPT_ENTRY_BYTES : NEW_ENTRY_BYTES;
      if (!f.hash || f.size === 0) continue; // directories, links, whiteouts: the header is all
      if (index.hashes.has(f.hash)) {
        if (old?.hash !== f.hash) total += COPY_BYTES;
        continue;
      }
      total += fileBytes(f, old);
    }
  }
  return total === 0 ? 0 : Math.round(total + BUNDLE_BYTES);
}

/** Estimated bundle bytes to turn what `bases` hold into `target`. `bases` empty = the full image. */
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
