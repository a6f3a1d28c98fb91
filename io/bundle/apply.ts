// Applies a bundle on a device, in the order docs/bundle-format.md promises: signature, version,
// expiry, every part's digest, then the rebuild. Rebuilt layers are kept, verified, in the state
// dir's work area, so an apply killed at any point resumes without redoing them; the image becomes
// visible only through the destination's atomic commit; the version is recorded after that.
import { createReadStream, promises as fs } from 'node:fs';
import { BundleError } from '../../core/bundle/errors.js';
import type { ManifestVerifier } from '../../core/bundle/format.js';
import { entryFor, type BundleEntry, type Manifest } from '../../core/bundle/manifest.js';
import { checkExpiry, checkVersion } from '../../core/bundle/policy.js';
import { writeFileAtomic } from '../atomic-file.js';
import { makeScratchDir } from '../scratch.js';
import { PatchFile } from '../delta/patch.js';
import { putLayer } from '../image/layer-stream.js';
import { openDestination, openSource } from '../image/transport.js';
import type { ImageInfo, ImageSource, LayerInfo, TransportOptions } from '../image/types.js';
import { scanLayer } from './layer-scan.js';
import { openBundle, type OpenBundle } from './reader.js';
import { checkPatchMatches, layerError, proveRebuild, PatchBase } from './rebuild.js';
import { ApplyState, WorkArea } from './state.js';

export interface ApplyOptions {
  bundle: string;
  verifier: ManifestVerifier;
  /** the image the device has (skopeo syntax), or null when it starts from nothing */
  from: string | null;
  /** where the target goes: docker://…, docker-daemon:…, docker-archive:… */
  to: string;
  stateDir: string;
  now?: Date;
  /** for both the base and the destination: temp dir, registry mounts (the edge module's local registry) */
  transport?: TransportOptions;
  onProgress?: (done: number, total: number) => void;
}

export interface ApplyResult {
  manifest: Manifest;
  entry: BundleEntry;
  /** layers rebuilt by this run, and those an earlier (killed) run had already rebuilt */
  rebuilt: number;
  resumed: number;
}

const LAYER_SUFFIX = '.tar';
const PATCH_SUFFIX = '.patch';
const MAX_CONFIG_BYTES = 8 << 20;

export async function applyBundle(opts: ApplyOptions): Promise<ApplyResult> {
  const bundle = await openBundle(opts.bundle, opts.verifier);
  const { manifest } = bundle;
  const state = await ApplyState.open(opts.stateDir);
  checkVersion(manifest, await state.lastApplied());
  checkExpiry(manifest, opts.now ?? new Date());
  await bundle.verifyParts();

  const base = opts.from ? await openSource(opts.from, opts.transport) : undefined;
  try {
    const entry = entryFor(manifest, base ? identityOf(await base.info()) : null);
    const work = await state.workArea(manifest.id);
    const patch = await extractPatch(bundle, entry, work);
    const { rebuilt, resumed } = await rebuildLayers(patch, base, work, opts.onProgress);
    await publish(bundle, entry, patch, base, work, opts.to, opts.transport);
    await state.recordApplied({ version: manifest.version, id: manifest.id, appliedAt: new Date().toISOString() });
    await work.remove();
    return { manifest, entry, rebuilt, resumed };
  } finally {
    await base?.close();
  }
}

/**
 * `bundle verify --from`: rebuilds the target's layers from `from` (null: a full-image entry) in a
 * temp dir and discards them. Nothing is written anywhere else.
 */
export async function verifyByRebuild(bundle: OpenBundle, from: string | null): Promise<BundleEntry> {
  const base = from ? await openSource(from) : undefined;
  const dir = await makeScratchDir('lighter-verify-');
  try {
    const entry = entryFor(bundle.manifest, base ? identityOf(await base.info()) : null);
    const patch = await extractPatch(bundle, entry, new WorkArea(dir));
    await proveRebuild(patch, base, dir);
    return entry;
  } finally {
    await base?.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function identityOf(info: ImageInfo) {
  return { configDigest: info.configDigest, diffIDs: info.layers.map((l) => l.diffID) };
}

/** The entry's patch part, copied (verified) into the work area where the engine can seek in it. */
async function extractPatch(bundle: OpenBundle, entry: BundleEntry, work: WorkArea): Promise<PatchFile> {
  const path = work.pathFor(entry.patch, PATCH_SUFFIX);
  if (!(await work.has(entry.patch, PATCH_SUFFIX))) await writeFileAtomic(path, bundle.openPart(entry.patch));
  let patch: PatchFile;
  try {
    patch = await PatchFile.open(path);
  } catch (err) {
    throw new BundleError('malformed-manifest', `the patch part is not a usable patch: ${err instanceof Error ? err.message : String(err)}`);
  }
  checkPatchMatches(patch, entry);
  return patch;
}

/** Rebuilds every layer the patch carries into the work area, skipping those already there. */
async function rebuildLayers(patch: PatchFile, base: ImageSource | undefined, work: WorkArea, onProgress?: ApplyOptions['onProgress']) {
  const carried = patch.header.layers.flatMap((l, i) => (l.from === 'patch' ? [{ ...l, i }] : []));
  const total = carried.reduce((n, l) => n + l.size, 0);
  let done = 0;
  let rebuilt = 0;
  let resumed = 0;
  let baseLayers: PatchBase | null = null;
  try {
    for (const l of carried) {
      if (await work.has(l.diffID, LAYER_SUFFIX)) {
        resumed++;
      } else {
        baseLayers ??= await PatchBase.open(base, patch, work.dir);
        const layer = await patch.openLayer(l.i, baseLayers.sources);
        try {
          // The engine's stream checks size and diffID; the scan refuses entries that would escape.
          await writeFileAtomic(work.pathFor(l.diffID, LAYER_SUFFIX), layer, async (tmp) => void (await scanLayer(createReadStream(tmp))));
        } catch (err) {
          throw layerError(l.diffID, err);
        }
        rebuilt++;
      }
      done += l.size;
      onProgress?.(done, total);
    }
  } finally {
    await baseLayers?.close();
  }
  return { rebuilt, resumed };
}

/** Hands every layer to the destination and commits: the one step that makes the image visible. */
async function publish(bundle: OpenBundle, entry: BundleEntry, patch: PatchFile, base: ImageSource | undefined, work: WorkArea, to: string, transport?: TransportOptions): Promise<void> {
  const configBytes = await bundle.readPart(entry.config, MAX_CONFIG_BYTES);
  const baseLayers = (await base?.info())?.layers ?? [];
  const inBase = new Map(baseLayers.map((l, i) => [l.diffID, i]));
  const dest = await openDestination(to, transport);
  try {
    const layers: LayerInfo[] = [];
    for (const l of patch.header.layers) {
      const b = inBase.get(l.diffID);
      if (b !== undefined) {
        const src = baseLayers[b]!;
        const descriptor = (await dest.hasLayer(src)) ? src.descriptor : await putLayer(dest, l.diffID, l.size, await base!.layerFile?.(b), () => base!.openLayerTar(b), `base layer ${b} (${l.diffID})`);
        layers.push({ diffID: l.diffID, descriptor });
      } else if (l.from === 'patch') {
        const path = work.pathFor(l.diffID, LAYER_SUFFIX);
        const descriptor = await putLayer(dest, l.diffID, l.size, { path, offset: 0, size: l.size }, async () => createReadStream(path), `rebuilt layer ${l.diffID}`);
        layers.push({ diffID: l.diffID, descriptor });
      } else {
        throw new BundleError('no-matching-base', `layer ${l.diffID} is expected on the device but the base image lacks it`);
      }
    }
    await dest.commit({ configBytes, layers, repoTags: [entry.target.repoTag] });
  } catch (err) {
    await dest.abort();
    throw err;
  }
}
