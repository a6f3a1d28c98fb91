// What build and apply share around the delta engine: checking a patch against its signed entry,
// and rebuilding a patch's layers from a base image's layers.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BundleError } from '../../core/bundle/errors.js';
import type { BundleEntry } from '../../core/bundle/manifest.js';
import type { ByteSource } from '../../core/delta/bytes.js';
import { DigestMismatchError } from '../digest.js';
import { openLayers, type PatchFile } from '../delta/patch.js';
import type { ImageSource } from '../image/types.js';

/**
 * Refuses a patch whose header disagrees with the signed entry it was shipped in: it must rebuild
 * exactly the target's layers, and draw only on layers of the entry's base (none for a full image).
 */
export function checkPatchMatches(patch: PatchFile, entry: BundleEntry): void {
  const h = patch.header;
  const t = entry.target;
  const baseLayers = new Set(entry.base?.diffIDs ?? []);
  const same =
    h.target.configDigest === t.configDigest &&
    h.layers.length === t.layers.length &&
    h.layers.every((l, i) => l.diffID === t.layers[i]!.diffID && l.size === t.layers[i]!.size && (l.from === 'patch' || baseLayers.has(l.diffID))) &&
    h.base.diffIDs.every((d) => baseLayers.has(d));
  if (!same) throw new BundleError('malformed-manifest', 'the patch does not rebuild the target the manifest names from its base');
}

/**
 * The base layers a patch reads, indexed as its header's base diffIDs: read in place where the
 * source keeps them uncompressed in a file (a docker-archive), else spooled to `dir`
 * (io/delta/patch.ts openLayers; copying a 300 MB base out of its archive was a third of an apply).
 */
export class PatchBase {
  private constructor(
    readonly sources: ByteSource[],
    private readonly files: Array<{ close(): Promise<void> }>,
    private readonly spoolDir: string | undefined,
  ) {}

  /** `base` undefined: the device has no image, and the patch (a full image) needs none. */
  static async open(base: ImageSource | undefined, patch: PatchFile, dir: string): Promise<PatchBase> {
    const info = (await base?.info()) ?? { layers: [] };
    const where = new Map(info.layers.map((l, i) => [l.diffID, i]));
    const indexes = patch.header.base.diffIDs.map((diffID) => {
      const i = where.get(diffID);
      if (i === undefined) throw new BundleError('no-matching-base', `the base image lacks layer ${diffID} the patch was built against`);
      return i;
    });
    if (!base || indexes.length === 0) return new PatchBase([], [], undefined);
    // what a killed run spooled is not trusted: spool afresh, and remove the copies on close
    const spoolDir = join(dir, 'base-spool');
    await fs.rm(spoolDir, { recursive: true, force: true });
    await fs.mkdir(spoolDir);
    try {
      const files = await openLayers(base, indexes, spoolDir, 'base');
      return new PatchBase(indexes.map((i) => files.get(i)!), [...files.values()], spoolDir);
    } catch (err) {
      await fs.rm(spoolDir, { recursive: true, force: true });
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
    if (this.spoolDir) await fs.rm(this.spoolDir, { recursive: true, force: true });
  }
}

/** Names a rebuilt layer's verification failure as the bundle error it is. */
export function layerError(diffID: string, err: unknown): Error {
  if (err instanceof BundleError) return err;
  if (err instanceof DigestMismatchError) return new BundleError('layer-digest', `rebuilt layer does not match ${diffID}`);
  const msg = err instanceof Error ? err.message : String(err);
  if (/larger than|more than/i.test(msg)) return new BundleError('decompression-bomb', `layer ${diffID}: ${msg}`);
  if (/truncated|corrupt/i.test(msg)) return new BundleError('layer-digest', `layer ${diffID}: ${msg}`);
  return err instanceof Error ? err : new Error(msg);
}

/** Rebuilds every layer the patch carries and discards it: the engine verifies each diffID. */
export async function proveRebuild(patch: PatchFile, base: ImageSource | undefined, dir: string): Promise<void> {
  const carried = patch.header.layers.flatMap((l, i) => (l.from === 'patch' ? [i] : []));
  if (carried.length === 0) return;
  const baseLayers = await PatchBase.open(base, patch, dir);
  try {
    for (const i of carried) {
      try {
        await pipeline(await patch.openLayer(i, baseLayers.sources), new Writable({ write: (_c, _e, cb) => cb() }));
      } catch (err) {
        throw layerError(patch.header.layers[i]!.diffID, err);
      }
    }
  } finally {
    await baseLayers.close();
  }
}
