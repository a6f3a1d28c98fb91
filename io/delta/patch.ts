// Patch files on disk: build one from two images (any transports), read one back, and rebuild
// layers or a whole image from it. Layer tars are spooled to a temp dir for random access and
// removed afterwards; the patch appears atomically; every rebuilt layer is verified against its
// diffID before the destination accepts it.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { applyLayer } from '../../core/delta/apply.js';
import type { ImageLayers, TargetImage } from '../../core/delta/build.js';
import type { ByteSource } from '../../core/delta/bytes.js';
import { decodeConfig, decodePrefix, encodeConfig, encodePrefix, prefixVersion, HEADER_DIGEST_BYTES, MAX_CONFIG_CHARS, MAX_HEADER_BYTES, parseHeader, PatchFormatError, PREFIX_BYTES, type PatchHeader } from '../../core/delta/format.js';
import { applyConfigDelta } from '../../core/delta/config-delta.js';
import { writeFileAtomic } from '../atomic-file.js';
import { withScratchDir } from '../scratch.js';
import { sha256, VerifyingStream } from '../digest.js';
import { putLayer } from '../image/layer-stream.js';
import type { ImageDestination, ImageSource, LayerInfo } from '../image/types.js';
import { FileRange, FileSource, spool } from './file-source.js';
import { layerReaders, SectionStore, STREAM, verifyLayer } from './sections.js';
import { workerScanner } from './site-scanner.js';

export interface Progress {
  (done: number, total: number): void;
}

/**
 * Random access to an image's layers for a diff or an apply: read in place where the source keeps
 * them uncompressed in a local file (checked against the diffID on first use), else spooled to `dir`.
 */
export async function openLayers(src: ImageSource, indexes: number[], dir: string, tag: string): Promise<Map<number, FileSource | FileRange>> {
  const out = new Map<number, FileSource | FileRange>();
  const info = await src.info();
  try {
    for (const i of indexes) {
      if (out.has(i)) continue;
      const at = await src.layerFile?.(i);
      out.set(i, at ? await FileRange.open(at.path, at.offset, at.size, info.layers[i]!.diffID, `${tag} layer ${i} (${info.layers[i]!.diffID})`) : await spool(await src.openLayerTar(i), join(dir, `${tag}-${i}.tar`)));
    }
  } catch (err) {
    await Promise.all([...out.values()].map((f) => f.close()));
    throw err;
  }
  return out;
}

const notSpooled: ByteSource = {
  size: 0,
  read: () => Promise.reject(new Error('layer not spooled')),
};

/**
 * An unchanged layer's uncompressed size without keeping it: the descriptor's when it describes
 * the tar itself (archives, daemon), else counted from the verified stream (compressed blobs).
 */
async function tarSize(src: ImageSource, index: number, l: LayerInfo): Promise<number> {
  if (l.descriptor.digest === l.diffID) return l.descriptor.size;
  let n = 0;
  for await (const c of await src.openLayerTar(index)) n += (c as Buffer).length;
  return n;
}

export interface DiffOptions {
  onProgress?: Progress;
  /** diffIDs the device has in other images: such layers are not carried */
  knownDiffIDs?: string[];
  tmpDir?: string;
  /** also try the context-mixing coder on each whole section of a delta (io/delta/sections.ts, STREAM) */
  dense?: boolean;
}

/** Builds a patch from `base` (none: a first image) to `target`, written atomically to `outPath`. */
export async function diffImages(base: ImageSource | undefined, target: ImageSource, outPath: string, opts: DiffOptions = {}): Promise<PatchHeader> {
  const [bi, ti] = await Promise.all([base?.info() ?? { configDigest: '', layers: [] }, target.info()]);
  const baseIDs = bi.layers.map((l) => l.diffID);
  const known = new Set(opts.knownDiffIDs ?? []);
  const changed = ti.layers.flatMap((l, i) => (baseIDs.includes(l.diffID) || known.has(l.diffID) ? [] : [i]));
  // The builder's modules (matcher, suffix sorter, worker pool) are loaded here only: an apply never runs them.
  const [{ buildPatch }, { DiffPool }] = await Promise.all([import('../../core/delta/build.js'), import('./pool.js')]);
  return withScratchDir('lighter-delta-', opts.tmpDir, async (dir) => {
    const pool = DiffPool.create();
    const sources: Array<FileSource | FileRange> = [];
    try {
      const baseFiles = base && changed.length ? await openLayers(base, bi.layers.map((_, i) => i), dir, 'base') : new Map<number, FileSource | FileRange>();
      const targetFiles = await openLayers(target, changed, dir, 'target');
      sources.push(...baseFiles.values(), ...targetFiles.values());
      const baseImage: ImageLayers | null = base ? { configDigest: bi.configDigest, configBytes: 'configBytes' in bi ? bi.configBytes : undefined, diffIDs: baseIDs, layers: bi.layers.map((_, i) => baseFiles.get(i) ?? notSpooled) } : null;
      const targetImage: TargetImage = {
        configDigest: ti.configDigest,
        configBytes: ti.configBytes,
        repoTags: ti.repoTags,
        diffIDs: ti.layers.map((l) => l.diffID),
        layers: await Promise.all(ti.layers.map(async (l, i) => targetFiles.get(i) ?? { size: await tarSize(target, i, l), read: notSpooled.read })),
      };
      const store = new SectionStore(dir, base ? (opts.dense ? STREAM.dense : STREAM.delta) : STREAM.firstImage);
      const header = await buildPatch(baseImage, targetImage, { openLayer: () => store.openLayer(), hash: () => incremental(), differ: pool, onProgress: opts.onProgress }, known);
      await writePatchFile(outPath, header, store.files);
      return header;
    } finally {
      await pool.close();
      await Promise.all(sources.map((s) => s.close()));
    }
  });
}

function incremental() {
  const h = createHash('sha256');
  return { update: (b: Uint8Array) => void h.update(b), digest: () => `sha256:${h.digest('hex')}` };
}

async function writePatchFile(outPath: string, header: PatchHeader, sectionFiles: string[]): Promise<void> {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const packed = brotliCompressSync(json, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: json.length } });
  async function* bytes() {
    yield encodePrefix(packed.length);
    yield packed;
    yield createHash('sha256').update(packed).digest();
    for (const f of sectionFiles) yield await fs.readFile(f);
  }
  await writeFileAtomic(outPath, Readable.from(bytes()), async (tmp) => {
    parseHeader(json, (await fs.stat(tmp)).size - PREFIX_BYTES - packed.length - HEADER_DIGEST_BYTES);
  });
}

const scanner = workerScanner();

/**
 * A full collection when the process nears an apply's memory target (issue 15: at most 100 MB peak
 * RSS), at most once per COLLECT_EVERY rebuilt bytes (counted over all layers). An apply streams
 * everything through short-lived buffers (first-image: 330 MB of 256 KiB output blocks, 330 MB of
 * brotli's 16 KiB output chunks), which the 1 MiB young generation (bin/lighter.js) promotes, and
 * V8 collects the old generation as its JS heap grows, which an apply's hardly does: the dead
 * buffers were given back only tens of MB later (V8 starts on external memory 64 MB after the last
 * collection), and the chunks' malloc arena kept what it had grown to. A collection takes ~10-20 ms.
 * bin/lighter.js patch, alternating with and without, load 4-10, peak RSS (/usr/bin/time %M):
 * first-image 108.2-109.5 -> 92.8-95.0 MB; runtime-update 103.0-109.3 -> 99.2-104.8 MB; base-update
 * 104.3-105.0 -> 99.3-102.3 MB; CPU within noise. Every 48 MiB whatever the RSS: first-image
 * 98-112 MB; every 16 MiB: 97-100 MB with 0.3 s more CPU.
 */
const COLLECT_AT_RSS = 90 << 20;
const COLLECT_EVERY = 16 << 20;
/**
 * Once COLLECT_EVERY bytes have passed, the RSS is read again only every RSS_EVERY bytes: reading
 * it (/proc) for every block below the mark was 86 ms of large-file's apply (4,800 blocks).
 */
const RSS_EVERY = 2 << 20;
let rebuiltSinceCollect = 0;
let rebuiltSinceRss = 0;
let fullGc: (() => void) | undefined;

/** `chunks`, collecting (see COLLECT_AT_RSS) as they pass. */
async function* collecting(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const c of chunks) {
    rebuiltSinceCollect += c.length;
    rebuiltSinceRss += c.length;
    if (rebuiltSinceCollect >= COLLECT_EVERY && rebuiltSinceRss >= RSS_EVERY) {
      rebuiltSinceRss = 0;
      if (process.memoryUsage.rss() >= COLLECT_AT_RSS) {
        rebuiltSinceCollect = 0;
        if (!fullGc) {
          // gc() is exposed to contexts made after the flag is set; this one is made for it alone
          setFlagsFromString('--expose-gc');
          fullGc = runInNewContext('gc') as () => void;
        }
        fullGc();
      }
    }
    yield c;
  }
}

/** A patch file, header checked (magic, version, bounds, digest, total size). */
export class PatchFile {
  private constructor(
    readonly path: string,
    readonly header: PatchHeader,
    /** file offset of the first section byte */
    private readonly dataStart: number,
    /** The patch's format version (what the applier rebuilds differs with it: core/delta/format.ts). */
    readonly version: number,
  ) {}

  static async open(path: string): Promise<PatchFile> {
    const fh = await fs.open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      const prefix = Buffer.alloc(PREFIX_BYTES);
      await fh.read(prefix, 0, PREFIX_BYTES, 0);
      if (size < PREFIX_BYTES) throw new PatchFormatError(`${path}: not a Lighter patch (${size} bytes)`);
      const len = decodePrefix(prefix);
      if (size < PREFIX_BYTES + len + HEADER_DIGEST_BYTES) throw new PatchFormatError(`${path}: patch is truncated inside its header`);
      const rest = Buffer.alloc(len + HEADER_DIGEST_BYTES);
      await fh.read(rest, 0, rest.length, PREFIX_BYTES);
      const packed = rest.subarray(0, len);
      if (!createHash('sha256').update(packed).digest().equals(rest.subarray(len))) throw new PatchFormatError(`${path}: patch header is corrupt (digest mismatch)`);
      let json: Uint8Array;
      try {
        json = brotliDecompressSync(packed, { maxOutputLength: MAX_HEADER_BYTES });
      } catch {
        throw new PatchFormatError(`${path}: patch header does not decompress`);
      }
      const dataStart = PREFIX_BYTES + len + HEADER_DIGEST_BYTES;
      return new PatchFile(path, parseHeader(json, size - dataStart), dataStart, prefixVersion(prefix));
    } catch (e) {
      if (e instanceof PatchFormatError) e.message = e.message.startsWith(path) ? e.message : `${path}: ${e.message}`;
      throw e;
    } finally {
      await fh.close();
    }
  }

  /** The target config's bytes; `baseConfig`: the base image's, which a config delta needs. */
  targetConfig(baseConfig?: { configDigest: string; configBytes: Uint8Array }): Uint8Array {
    const t = this.header.target;
    let text = t.config;
    if (text === undefined) {
      if (!baseConfig || baseConfig.configDigest !== this.header.base.configDigest) throw new Error(`wrong base image: the patch's target config is coded against base config ${this.header.base.configDigest}${baseConfig ? `, not ${baseConfig.configDigest}` : ', and none was given'}`);
      if (sha256(baseConfig.configBytes) !== baseConfig.configDigest) throw new PatchFormatError(`${this.path}: the base config does not match its digest`);
      text = applyConfigDelta(encodeConfig(baseConfig.configBytes), t.configDelta!, MAX_CONFIG_CHARS);
    }
    const bytes = decodeConfig(text);
    if (sha256(bytes) !== this.header.target.configDigest) throw new PatchFormatError(`${this.path}: target config does not match its digest`);
    return bytes;
  }

  /**
   * Rebuilds target layer `index` (a 'patch' layer) from base layer byte sources indexed as
   * header.base.diffIDs (the bundle engine resumes layer by layer with this). Section digests are checked first; the stream fails unless the output's
   * sha256 and size equal the layer's diffID and size.
   */
  async openLayer(index: number, base: ByteSource[]): Promise<Readable> {
    const layer = this.header.layers[index];
    if (!layer || layer.from !== 'patch') throw new Error(`layer ${index} is not carried by this patch`);
    await verifyLayer(this.path, this.dataStart, layer, `patch layer ${index}`);
    const chunks = collecting(applyLayer(layerReaders(this.path, this.dataStart, layer, `patch layer ${index}`), base, layer.size, this.version, scanner));
    const verified = new VerifyingStream(`rebuilt layer ${index}`, { digest: layer.diffID, size: layer.size });
    // pipe() does not forward errors: a corrupt patch must fail the stream, not hang it.
    return Readable.from(chunks, { objectMode: false }).on('error', (err) => verified.destroy(err)).pipe(verified);
  }
}

export interface PatchOptions {
  onProgress?: Progress;
  tmpDir?: string;
}

/**
 * Rebuilds the target image into `dest` from `base` + the patch. The base must have every layer
 * the patch names (checked before anything is written); the destination commits only when every
 * layer verified.
 */
export async function applyPatch(patch: PatchFile, base: ImageSource | undefined, dest: ImageDestination, opts: PatchOptions = {}): Promise<void> {
  const h = patch.header;
  try {
    if (h.base.configDigest && !base) throw new Error(`the patch needs a base image (${h.base.configDigest}); give one`);
    const bi = (await base?.info()) ?? { reference: '', layers: [] };
    const where = new Map(bi.layers.map((l, i) => [l.diffID, i]));
    const baseIDs = h.base.diffIDs;
    const missing = baseIDs.filter((d) => !where.has(d));
    if (missing.length) throw new Error(`wrong base image ${bi.reference}: it lacks ${missing.length} of the ${baseIDs.length} layers the patch was built against (first: ${missing[0]})`);
    const configBytes = patch.targetConfig('configBytes' in bi ? bi : undefined);
    const total = h.layers.reduce((n, l) => n + l.size, 0);
    let done = 0;
    const tick = (n: number) => {
      done += n;
      opts.onProgress?.(done, total);
    };
    await withScratchDir('lighter-delta-', opts.tmpDir, async (dir) => {
      const needsBase = h.layers.some((l) => l.from === 'patch');
      const baseIdx = baseIDs.map((d) => where.get(d)!);
      const files = base && needsBase ? await openLayers(base, baseIdx, dir, 'base') : new Map<number, FileSource | FileRange>();
      try {
        const sources = baseIdx.map((i) => files.get(i) ?? notSpooled);
        const layers: LayerInfo[] = [];
        for (const [i, l] of h.layers.entries()) {
          const uncompressed = { mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: l.diffID, size: l.size };
          if (l.from === 'base') {
            const at = where.get(baseIDs[l.index]!)!;
            const src = bi.layers[at]!;
            if (!(await dest.hasLayer(src))) await putLayer(dest, l.diffID, l.size, await base!.layerFile?.(at), () => base!.openLayerTar(at), `base layer ${at} (${l.diffID})`);
            layers.push(src);
          } else if (l.from === 'known') {
            if (!(await dest.hasLayer({ diffID: l.diffID }))) throw new Error(`the destination lacks layer ${l.diffID}, which the patch expects the device to have`);
            layers.push({ diffID: l.diffID, descriptor: uncompressed });
          } else {
            const descriptor = (await dest.hasLayer({ diffID: l.diffID })) ? uncompressed : await dest.putLayerTar(l.diffID, await patch.openLayer(i, sources), l.size);
            layers.push({ diffID: l.diffID, descriptor });
          }
          tick(l.size);
        }
        await dest.commit({ configBytes, layers, repoTags: h.target.repoTags });
      } finally {
        await Promise.all([...files.values()].map((f) => f.close()));
      }
    });
  } catch (err) {
    await dest.abort();
    throw err;
  }
}
