// Patch sections on disk: brotli-compressed while the engine writes them (to temp files, then
// concatenated into the patch), and read back as verified, size-capped decompressed streams.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { constants, createBrotliDecompress, brotliCompress } from 'node:zlib';
import { promisify } from 'node:util';
import { ChunkReader, CorruptPatchError } from '../../core/delta/bytes.js';
import type { LayerWriter, SectionWriter } from '../../core/delta/build.js';
import type { CarriedLayer, SectionName, SectionSize } from '../../core/delta/format.js';
import { MAX_BLOCK_BYTES, SECTION_NAMES } from '../../core/delta/format.js';
import { availableParallelism } from 'node:os';
import { DigestMismatchError } from '../digest.js';

const compressOnce = promisify(brotliCompress);

/**
 * Brotli parameters, chosen by measurement (docs/bench.md). Sections up to SMALL_SECTION raw bytes
 * are compressed whole at quality 11; larger ones in blocks, and the applier holds one window at a
 * time. On the node binary's delta streams (117 → 120 MB; control, runs, differences,
 * literal) quality 7 with a 4 MiB window gave 8.48 MB, 9 with 16 MiB 8.42 MB, 11 with 16 MiB
 * 7.52 MB, 11 with 4 MiB 7.58 MB: deltas keep the 4 MiB window, 0.8% for 24 MB less apply memory
 * (146 MB peak with 16 MiB). Build time is held to 1.5 × xdelta3's: on runtime-update, idle
 * machine, quality 11 built in 68.5 s (7,326,060 B) against xdelta3's 41.6 s, quality 10 in 56 s
 * (7,562,946 B), so delta streams took quality 10. They take 11 now, for size: runtime-update's literal
 * section (7.28 MB) goes from 2,426,516 B in 12.7 s of CPU to 2,310,281 B in 16.9 s (the patch
 * 5,018,638 → 4,926,713 B, bringing it under 0.7 × HDiffPatch; brotli's own input blocks are its best
 * there: 2^22 at quality 10 gave 2,400,644 B), at the cost of the build target: 1.92 × xdelta3 in
 * docs/bench.md's run of 2026-12-03, where that section runs alone on one thread after the diffing. A first image has no peer time to meet and its
 * streams are whole layers: on the binary as a first image, 7/4 MiB gave 33.1 MB in 24 s, 11/16 MiB
 * 27.7 MB in 418 s (gzip -6: 41.3 MB; xz -9: 27.0 MB). Quality 10–11 run at ~0.3–0.5 MB/s, so a
 * block whose first SMALL_SECTION bytes do not compress (random or already-compressed data:
 * brotli quality 1 saves under 3%) is coded at quality 4 instead: on 26 MB of random bytes
 * quality 11 took 64 s to save nothing, quality 4 0.4 s.
 */
export const SMALL_SECTION = 4 << 20;
/**
 * A delta's large sections in blocks of one window (2^22): runtime-update's literal section (the
 * node binary's, 7.28 MB) was one stream of 22 s of CPU, alone on a core at the build's end after
 * ctrl, runs and diff (whole, 22 s together) had shared the cores with it; as 4 MiB blocks both cores
 * take it, for 2,319,220 B against one stream's 2,310,687 (+0.4%; halves of 3.64 MB cost +26,172 B),
 * docs/patch-format.md "Sections in blocks".
 */
const DELTA_BLOCK = 4 << 20;
/**
 * How sections over SMALL_SECTION are coded, by what the patch carries, and when whole ones are
 * cm-coded (`cm`, see cmPays): in a delta, where it pays at the design's link speed; asked to be
 * dense (`lighter diff --dense`: a metered or slower link, where bytes count more than device time),
 * wherever it is smaller by CM_MARGIN; never in a first image, whose build time is held to a general
 * compressor's.
 */
export const STREAM = {
  delta: { quality: 11, lgwin: 22, cm: 'pays', block: DELTA_BLOCK },
  dense: { quality: 11, lgwin: 22, cm: 'smaller', block: DELTA_BLOCK },
  firstImage: { quality: 11, lgwin: 24, cm: 'never', block: MAX_BLOCK_BYTES },
} as const;
/**
 * Large sections are cut into `block` raw bytes (the last one the rest), each an independent
 * brotli stream, so that up to IN_FLIGHT of them compress at once on the libuv pool (both cores)
 * while the engine reads on; block boundaries depend on the raw bytes only, so the patch is the
 * same whatever the timing. The applier decodes one block at a time (one window).
 */
const IN_FLIGHT = Math.max(2, availableParallelism());
/** How a section over SMALL_SECTION is coded; `block`: its raw bytes per block (≤ MAX_BLOCK_BYTES). */
export interface Stream {
  readonly quality: number;
  readonly lgwin: number;
  readonly cm: 'pays' | 'smaller' | 'never';
  readonly block: number;
}
const SMALL_LGWIN = 24;
const SMALL_QUALITY = 11;
const INCOMPRESSIBLE_QUALITY = 4;
const PROBE_QUALITY = 1;
const PROBE_KEEPS = 0.97;
/**
 * Whole sections of at least CM_MIN bytes may be coded by the context-mixing coder (core/delta/cm)
 * instead of brotli: on base-on-device's literal section (2.9 MB of new JS) brotli 11 gave
 * 487,346 B, cm 393,839 B, but cm decodes at CM_DECODE_RATE where brotli runs at hundreds of MB/s
 * (docs/patch-format.md). Below CM_MIN its 4 MB of tables cost more time than the bytes are worth.
 * Only whole sections (≤ SMALL_SECTION) qualify: at that speed a first image's 300 MB of layers
 * would take half an hour to decode.
 */
const CM_MIN = 4096;
/** The link a default patch is built for: DESIGN.md's satellite link, about 1 Mbit/s. */
export const LINK_RATE = 125_000;
/**
 * cm's decode speed, raw bytes per CPU second: 0.27–0.30 MB/s measured on base-on-device's literal
 * section and on 1 MB of npm JS (2-core build machine, load average 9–13), rounded up; a fixed
 * figure, not a timing taken during the build, so the same inputs give the same patch.
 */
export const CM_DECODE_RATE = 300_000;
/** cm is kept only when at most this fraction of brotli's bytes: a real saving, not a coin toss. */
export const CM_MARGIN = 0.97;
/**
 * The smallest cm code, as a fraction of brotli's, that deciding whether to try cm assumes: no
 * corpus section has coded below 0.79 (app-update's ops; base-on-device's literal 0.81). Assuming
 * 0 instead had default builds cm-code sections that then lost: on runtime-update 8.5 s of the main
 * thread's CPU (the build took 43 s), for sections brotli leaves above 42% of their size.
 */
export const CM_BEST = 0.75;

/**
 * Whether a whole section of `raw` bytes is cm-coded, given its brotli and cm code lengths (cm
 * undefined: not yet coded, asking whether coding it could pay at all). `pays`: the link time the
 * saving buys, (brotli − cm) × 8 bits at LINK_RATE, covers the decode time cm adds, raw ÷
 * CM_DECODE_RATE (brotli's own is negligible) — the patch is in use sooner. At these rates cm must
 * save ≥ 42% of the raw size on top of brotli, which no real section does (base-on-device saves 3%:
 * 93.5 KB, 0.75 s of link, for 9.7 s of decoding); asked before coding, the bound with cm at CM_BEST
 * × brotli skips sections that cannot qualify, so default builds pay nothing for it. `smaller`: the
 * budget lifted; the margin alone.
 */
export function cmPays(how: Stream['cm'], raw: number, brotli: number, cm?: number): boolean {
  if (how === 'never' || raw < CM_MIN) return false;
  if (cm !== undefined && cm > brotli * CM_MARGIN) return false;
  return how === 'smaller' || (brotli - (cm ?? brotli * CM_BEST)) / LINK_RATE >= raw / CM_DECODE_RATE;
}
/** A cm section's code is never this much longer than its raw bytes (a larger claim is corruption, not a reason to allocate). */
const cmCodeBound = (raw: number) => raw + (raw >> 3) + 64;
/**
 * The context-mixing coder, loaded when a section is cm-coded or may be: its tables are computed
 * as it loads (~10 ms of an apply's start-up, and most patches have no cm section).
 */
const cmCoder = () => import('../../core/delta/cm/coder.js');
/** Raw bytes a cm section decodes per turn of the event loop. */
const CM_CHUNK = 64 << 10;

/** The quality for a section, judged by its first (up to SMALL_SECTION) bytes. */
async function qualityFor(first: Buffer, quality: number): Promise<number> {
  const probe = await compressOnce(first, params(PROBE_QUALITY, first.length, SMALL_LGWIN));
  return probe.length > first.length * PROBE_KEEPS ? INCOMPRESSIBLE_QUALITY : quality;
}

function params(quality: number, sizeHint: number, lgwin: number) {
  return {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: quality,
      [constants.BROTLI_PARAM_LGWIN]: lgwin,
      [constants.BROTLI_PARAM_SIZE_HINT]: sizeHint,
    },
  };
}

/** Collects layers' sections in temp files under `dir`; the patch is their concatenation in order. */
export class SectionStore {
  readonly files: string[] = [];
  private offset = 0;
  constructor(
    private readonly dir: string,
    private readonly how: Stream,
  ) {}

  openLayer(): LayerWriter {
    const start = this.offset;
    const mine: string[] = [];
    return {
      section: (name) => {
        const path = join(this.dir, `section-${this.files.length + mine.length}-${name}`);
        mine.push(path);
        return sectionWriter(path, this.how);
      },
      finish: async () => {
        const hash = createHash('sha256');
        let length = 0;
        for (const f of mine) {
          const b = await fs.readFile(f);
          hash.update(b);
          length += b.length;
        }
        this.files.push(...mine);
        this.offset += length;
        return { offset: start, length, sha256: `sha256:${hash.digest('hex')}` };
      },
    };
  }
}

/** A section in independently compressed blocks, up to IN_FLIGHT compressing at once, written in order. */
function blockWriter(path: string, how: Stream, first: Uint8Array[]): SectionWriter {
  let raw = 0;
  const BLOCK = how.block;
  let block = Buffer.allocUnsafe(BLOCK);
  let fill = 0;
  const inFlight: Array<Promise<Buffer>> = [];
  const lengths: number[] = [];
  let length = 0;
  const file = fs.open(path, 'wx');
  file.catch(() => undefined);
  const compress = async (b: Buffer) => {
    const quality = await qualityFor(b.subarray(0, SMALL_SECTION), how.quality);
    return compressOnce(b, params(quality, b.length, how.lgwin));
  };
  const drainOne = async () => {
    const out = await inFlight.shift()!;
    await (await file).write(out);
    lengths.push(out.length);
    length += out.length;
  };
  const launch = async () => {
    const b = block.subarray(0, fill);
    const p = compress(b);
    p.catch(() => undefined);
    inFlight.push(p);
    block = Buffer.allocUnsafe(BLOCK);
    fill = 0;
    while (inFlight.length >= IN_FLIGHT) await drainOne();
  };
  const write = async (b: Uint8Array) => {
    raw += b.length;
    let at = 0;
    while (at < b.length) {
      const n = Math.min(BLOCK - fill, b.length - at);
      block.set(b.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === BLOCK) await launch();
    }
  };
  const started = (async () => {
    for (const b of first) await write(b);
  })();
  return {
    write: async (b: Uint8Array) => {
      await started;
      if (b.length) await write(b);
    },
    finish: async (): Promise<SectionSize> => {
      await started;
      if (fill > 0) await launch();
      while (inFlight.length) await drainOne();
      await (await file).close();
      return { length, rawLength: raw, coding: 'blocks', block: BLOCK, blocks: lengths };
    },
  };
}

/** A section: whole (one brotli stream or cm code) up to SMALL_SECTION raw bytes, past that in blocks. */
function sectionWriter(path: string, how: Stream): SectionWriter {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let blocks: SectionWriter | undefined;
  return {
    write: async (b: Uint8Array) => {
      if (b.length === 0) return;
      if (blocks) return blocks.write(b);
      pending.push(new Uint8Array(b));
      pendingBytes += b.length;
      if (pendingBytes > SMALL_SECTION) {
        blocks = blockWriter(path, how, pending);
        pending = [];
      }
    },
    finish: async () => (blocks ? blocks.finish() : writeWhole(path, how, Buffer.concat(pending))),
  };
}

/** A section of at most SMALL_SECTION raw bytes, compressed whole at quality 11 (or cm-coded where that pays). */
async function writeWhole(path: string, how: Stream, all: Buffer): Promise<SectionSize> {
  const quality = await qualityFor(all, SMALL_QUALITY);
  const brotli = await compressOnce(all, params(quality, all.length, SMALL_LGWIN));
  const cm = quality !== INCOMPRESSIBLE_QUALITY && cmPays(how.cm, all.length, brotli.length) ? (await cmCoder()).cmEncode(all) : undefined;
  const out = cm && cmPays(how.cm, all.length, brotli.length, cm.length) ? cm : brotli;
  await fs.writeFile(path, out, { flag: 'wx' });
  return out === cm ? { length: out.length, rawLength: all.length, coding: 'cm' } : { length: out.length, rawLength: all.length };
}

/** Checks a carried layer's sha256 (reading its section bytes once) before anything decompresses them. */
export async function verifyLayer(file: string, base: number, l: CarriedLayer, what: string): Promise<void> {
  const hash = createHash('sha256');
  if (l.length > 0) for await (const c of createReadStream(file, { start: base + l.offset, end: base + l.offset + l.length - 1 })) hash.update(c as Buffer);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== l.sha256) throw new DigestMismatchError(what, l.sha256, actual);
}

/** Each section of a carried layer as a pull reader; more or fewer than rawLength bytes is corruption. */
export function layerReaders(file: string, base: number, l: CarriedLayer, what: string): Record<SectionName, ChunkReader> {
  let offset = base + l.offset;
  const out = {} as Record<SectionName, ChunkReader>;
  for (const name of SECTION_NAMES) {
    out[name] = sectionReader(file, offset, l.sections[name], `${what} section ${name}`);
    offset += l.sections[name].length;
  }
  return out;
}

/** The decompressed section at file offset `start` as a pull reader. */
function sectionReader(file: string, start: number, s: SectionSize, what: string): ChunkReader {
  return new ChunkReader(s.coding === 'cm' ? cmChunks(file, start, s, what) : s.coding === 'blocks' ? blockChunks(file, start, s, what) : brotliChunks(file, start, s, what), what);
}

/** A section in blocks (checked by the header's schema to cover rawLength and length), decoded one block after the other. */
async function* blockChunks(file: string, start: number, s: SectionSize, what: string): AsyncGenerator<Uint8Array> {
  let at = start;
  let left = s.rawLength;
  for (const [i, length] of s.blocks!.entries()) {
    const rawLength = Math.min(s.block!, left);
    yield* brotliChunks(file, at, { length, rawLength }, `${what} block ${i}`);
    at += length;
    left -= rawLength;
  }
}

/**
 * A cm section, decoded a chunk per event-loop turn (a 4 MiB section takes seconds). Memory: its
 * code (≤ SMALL_SECTION + 1/8) and the decoder's tables (≤ 29 MB, core/delta/cm/coder.ts).
 */
async function* cmChunks(file: string, start: number, s: SectionSize, what: string): AsyncGenerator<Uint8Array> {
  if (s.rawLength > SMALL_SECTION || s.length > cmCodeBound(s.rawLength)) throw new CorruptPatchError(`${what} is a context-mixing section of ${s.length} → ${s.rawLength} bytes, beyond what a patch writes`);
  const fh = await fs.open(file, 'r');
  const code = Buffer.alloc(s.length);
  try {
    const { bytesRead } = await fh.read(code, 0, s.length, start);
    if (bytesRead !== s.length) throw new CorruptPatchError(`${what} is truncated`);
  } finally {
    await fh.close();
  }
  const { CmDecoder, CorruptCodeError } = await cmCoder();
  try {
    const decoder = new CmDecoder(code, s.rawLength);
    while (decoder.remaining > 0) {
      yield decoder.read(CM_CHUNK);
      await nextTurn();
    }
  } catch (e) {
    if (e instanceof CorruptCodeError) throw new CorruptPatchError(`${what} does not decode: ${e.message}`);
    throw e;
  }
}

async function* brotliChunks(file: string, start: number, s: SectionSize, what: string): AsyncGenerator<Uint8Array> {
  if (s.length === 0) throw new CorruptPatchError(`${what} is empty`);
  const input = createReadStream(file, { start, end: start + s.length - 1, highWaterMark: 256 << 10 });
  const brotli = createBrotliDecompress();
  input.on('error', (e) => brotli.destroy(e));
  input.pipe(brotli);
  let seen = 0;
  // The section's last bytes are handed on only once its stream has ended and the decoder is
  // destroyed: a reader stops at the section's last byte without asking for the end, and the
  // suspended generator kept the decoder and its window (2-5 MB allocated) alive to the end of the
  // layer (runtime-update: the control section, read whole at the start, through the whole delta).
  let last: Uint8Array | undefined;
  try {
    for await (const c of brotli) {
      seen += (c as Buffer).length;
      if (seen > s.rawLength) throw new CorruptPatchError(`${what} decompresses to more than its declared ${s.rawLength} bytes`);
      if (seen < s.rawLength) yield c as Buffer;
      else last = c as Buffer;
    }
  } catch (e) {
    if (e instanceof CorruptPatchError) throw e;
    throw new CorruptPatchError(`${what} does not decompress: ${(e as Error).message}`);
  } finally {
    input.destroy();
    brotli.destroy();
  }
  if (seen !== s.rawLength) throw new CorruptPatchError(`${what} decompresses to ${seen} bytes, not ${s.rawLength}`);
  if (last) yield last;
}
