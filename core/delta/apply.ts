// Runs a layer program (ops.ts) against base layers and the patch sections, yielding the rebuilt
// layer tar in chunks. Memory stays bounded: base bytes are read in chunks at need, sections are
// pulled as streams, base tar layouts hold only entry offsets. Every length, index and offset
// from the patch is checked; violations are CorruptPatchError. The caller verifies the result's
// sha256 against the diffID before use.
import { BlockCache, bufferSource, CorruptPatchError, type ByteSource, type ChunkReader } from './bytes.js';
import { readTriple, readTripleNow } from './bsdiff.js';
import { CODE_LIMIT, CONTENT, HDR_MODE, HF_SHIFT, OP, PAD_LITERAL, WORD_MAPPED } from './ops.js';
import { applyWordMap, readWordMap, wordsOf, WORDS_MAX_OLD } from './words.js';
import type { SiteScanner } from './elf/references.js';
import { FORMAT_VERSION } from './format.js';
import { decodeHeader, HF } from '../tar/header-codec.js';
import { padLength, readTarLayout, type TarEntry, type TarLayout } from '../tar/reader.js';

export interface LayerStreams {
  ops: ChunkReader;
  hdr: ChunkReader;
  ctrl: ChunkReader;
  runs: ChunkReader;
  diff: ChunkReader;
  lit: ChunkReader;
}

const CHUNK = 1 << 20;

/** The x86-64 delta (elf/), loaded at the first entry that needs it: most layers have none, and it is ~8 ms of start-up. */
let elf: Promise<[typeof import('./elf/delta.js'), typeof import('./elf/references.js')]> | undefined;
const loadElf = () => (elf ??= Promise.all([import('./elf/delta.js'), import('./elf/references.js')]));

/** Reads up to this long (tar headers, small files' contents) go through the layer's block cache. */
const SMALL_READ = 64 << 10;
const CACHED_LAYERS = 2;
/** 1 MiB per layer: a delta keeps its own 8 MiB cache (sharing it with these reads raised runtime-update's peak by 13-22 MB). */
const SMALL_BLOCKS = 16;
/** Output of a delta is gathered into blocks of this size: the pieces are often a few bytes. */
const OUT_BLOCK = 256 << 10;

/**
 * Base layers with their tar layouts, parsed when first named, and one block cache per layer shared
 * by its headers and small files: consecutive entries lie next to each other, and a read per header
 * and per small file (app-update: 2,400 reads of 150-512 bytes for a 5 MB layer) cost more than the
 * rest of its rebuild.
 */
class BaseLayers {
  private readonly layouts = new Map<number, Promise<TarLayout>>();
  private readonly caches = new Map<number, BlockCache>();
  constructor(readonly sources: ByteSource[]) {}
  source(i: number): ByteSource {
    const b = this.sources[i];
    if (!b) throw new CorruptPatchError(`patch refers to base layer ${i}, base has ${this.sources.length}`);
    return b;
  }
  /** Layer `i`'s cache of small reads; at most CACHED_LAYERS are kept, the least recently used dropped. */
  private cache(i: number): BlockCache {
    let c = this.caches.get(i);
    if (c) this.caches.delete(i);
    else {
      c = new BlockCache(this.source(i), SMALL_READ, SMALL_BLOCKS);
      if (this.caches.size >= CACHED_LAYERS) this.caches.delete(this.caches.keys().next().value!);
    }
    this.caches.set(i, c);
    return c;
  }
  /** Exactly `length` bytes of layer `i` at `offset`, a copy the caller keeps. */
  async read(i: number, offset: number, length: number): Promise<Uint8Array> {
    if (length > SMALL_READ) return this.source(i).read(offset, length);
    const cache = this.cache(i);
    const out = new Uint8Array(length);
    for (let n = 0; n < length; ) {
      const b = cache.now(offset + n, length - n) ?? (await cache.get(offset + n, length - n));
      out.set(b, n);
      n += b.length;
    }
    return out;
  }
  async entry(layer: number, index: number): Promise<TarEntry> {
    const src = this.source(layer);
    let l = this.layouts.get(layer);
    if (!l) this.layouts.set(layer, (l = readTarLayout(src)));
    const e = (await l).entries[index];
    if (!e) throw new CorruptPatchError(`patch refers to entry ${index} of base layer ${layer}, which has ${(await l).entries.length}`);
    return e;
  }
}

async function* pipeLit(r: ChunkReader, len: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < len; ) {
    const b = await r.some(Math.min(CHUNK, len - o));
    o += b.length;
    yield b;
  }
}

/** Output pieces at least this long pass through as they are; shorter ones are gathered into blocks. */
const PASS = 64 << 10;

/**
 * Rebuilds one layer in blocks of OUT_BLOCK bytes (or pieces of at least PASS): a layer of small
 * files is mostly 512-byte headers and short contents, and every piece was a write of its own
 * through the verifying stream, the archive and the file (app-update: 2,200 writes for 5 MB).
 * `expectedSize` bounds the output. `scanner`: where x86 deltas' reference scans may run besides this
 * thread (elf/references.ts SiteScanner).
 */
export async function* applyLayer(s: LayerStreams, sources: ByteSource[], expectedSize: number, version = FORMAT_VERSION, scanner?: SiteScanner): AsyncGenerator<Uint8Array> {
  let block = new Uint8Array(OUT_BLOCK);
  let n = 0;
  for await (const c of program(s, sources, expectedSize, version, scanner)) {
    if (c.length >= PASS) {
      if (n > 0) yield block.subarray(0, n);
      if (n > 0) block = new Uint8Array(OUT_BLOCK);
      n = 0;
      yield c;
      continue;
    }
    for (let o = 0; o < c.length; ) {
      const k = Math.min(c.length - o, OUT_BLOCK - n);
      block.set(c.subarray(o, o + k), n);
      n += k;
      o += k;
      if (n === OUT_BLOCK) {
        yield block;
        block = new Uint8Array(OUT_BLOCK);
        n = 0;
      }
    }
  }
  if (n > 0) yield block.subarray(0, n);
}

async function* program(s: LayerStreams, sources: ByteSource[], expectedSize: number, version: number, scanner: SiteScanner | undefined): AsyncGenerator<Uint8Array> {
  const base = new BaseLayers(sources);
  const lastIndex = new Map<number, number>();
  let previousHeader: Uint8Array | undefined;
  let produced = 0;
  const check = (n: number) => {
    produced += n;
    if (produced > expectedSize) throw new CorruptPatchError(`patch rebuilds more than the layer's ${expectedSize} bytes`);
  };
  for (;;) {
    const op = await s.ops.byte();
    if (op === OP.END) {
      if (produced !== expectedSize) throw new CorruptPatchError(`patch rebuilds ${produced} of the layer's ${expectedSize} bytes`);
      for (const [name, r] of Object.entries(s)) if (!(await (r as ChunkReader).atEnd())) throw new CorruptPatchError(`patch section ${name} has unused bytes`);
      return;
    } else if (op === OP.LIT) {
      const len = await s.ops.uvar();
      check(len);
      yield* pipeLit(s.lit, len);
    } else if (op === OP.ZERO) {
      const len = await s.ops.uvar();
      check(len);
      for (let o = 0; o < len; o += CHUNK) yield new Uint8Array(Math.min(CHUNK, len - o));
    } else if (op === OP.ENTRY) {
      const code = await s.ops.uvar();
      const contentKind = code & 7;
      const hdrMode = (code >> 3) & 3;
      const flags = Math.floor(code / 2 ** HF_SHIFT) & 7;
      const wordMapped = (code & WORD_MAPPED) !== 0;
      const mappable = version >= 6 && (contentKind === CONTENT.DELTA_REF || contentKind === CONTENT.DELTA_OTHER);
      if (code >= CODE_LIMIT || (wordMapped && !mappable) || hdrMode > HDR_MODE.PREVIOUS) throw new CorruptPatchError(`patch has a malformed entry code ${code}`);
      // header reference
      let ref: Uint8Array | undefined;
      let refEntry: TarEntry | undefined;
      let refLayer = -1;
      let rawLen = 0;
      if (hdrMode === HDR_MODE.BASE) {
        refLayer = await s.ops.uvar();
        const index = (lastIndex.get(refLayer) ?? -1) + 1 + (await s.ops.svar());
        lastIndex.set(refLayer, index);
        refEntry = await base.entry(refLayer, index);
        ref = await base.read(refLayer, refEntry.start, refEntry.dataOffset - refEntry.start);
      } else if (hdrMode === HDR_MODE.PREVIOUS) {
        if (!previousHeader) throw new CorruptPatchError('patch refers to a previous header before the first entry');
        ref = previousHeader;
      } else rawLen = await s.ops.uvar();
      const mtimeDelta = ref && flags & HF.MTIME ? await s.ops.svar() : 0;
      // content source
      let from: { layer: number; entry: TarEntry } | undefined;
      let contentLen = 0;
      const x86 = contentKind === CONTENT.DELTA_REF_X86 || contentKind === CONTENT.DELTA_OTHER_X86;
      if (contentKind === CONTENT.SAME || contentKind === CONTENT.DELTA_REF || contentKind === CONTENT.DELTA_REF_X86) {
        if (!refEntry) throw new CorruptPatchError('patch reuses the content of an entry it did not name');
        from = { layer: refLayer, entry: refEntry };
      } else if (contentKind === CONTENT.COPY || contentKind === CONTENT.DELTA_OTHER || contentKind === CONTENT.DELTA_OTHER_X86) {
        const layer = await s.ops.uvar();
        from = { layer, entry: await base.entry(layer, await s.ops.uvar()) };
      }
      if (contentKind === CONTENT.SAME || contentKind === CONTENT.COPY) contentLen = from!.entry.size;
      else if (contentKind !== CONTENT.NONE) contentLen = await s.ops.uvar();
      // a word-mapped delta copies from the old content with the map (which follows) applied
      let mapped: Uint8Array | undefined;
      if (wordMapped) {
        if (from!.entry.size > WORDS_MAX_OLD) throw new CorruptPatchError(`patch word-maps an old file of ${from!.entry.size} bytes (at most ${WORDS_MAX_OLD})`);
        const old = await base.source(from!.layer).read(from!.entry.dataOffset, from!.entry.size);
        const words = wordsOf(old);
        mapped = applyWordMap(old, words, await readWordMap(s.ops, words));
      }
      const padLen = padLength(contentLen);
      // header bytes
      const headerLen = ref ? ref.length : rawLen;
      check(headerLen);
      const hdrBytes = await s.hdr.exact(headerLen);
      const header = ref ? decodeHeader(ref, { flags, mtimeDelta, xor: hdrBytes }, contentLen) : hdrBytes;
      if (!header) throw new CorruptPatchError('patch header encoding does not fit its reference');
      previousHeader = header;
      yield header;
      // content bytes
      check(contentLen + padLen);
      if (contentKind === CONTENT.SAME || contentKind === CONTENT.COPY) {
        for (let o = 0; o < contentLen; o += CHUNK) yield await base.read(from!.layer, from!.entry.dataOffset + o, Math.min(CHUNK, contentLen - o));
      } else if (contentKind === CONTENT.LIT) {
        yield* pipeLit(s.lit, contentLen);
      } else if (from && x86) {
        const [{ applyX86Delta }, { ALL_SITES, FORMAT6_SITES }] = await loadElf();
        yield* applyX86Delta(s, base.source(from.layer), from.entry.dataOffset, from.entry.size, contentLen, version >= 5, version >= 6, version >= 7 ? ALL_SITES : FORMAT6_SITES, scanner);
      } else if (mapped) {
        yield* applyDelta(s, bufferSource(mapped), 0, mapped.length, contentLen);
      } else if (from) {
        yield* applyDelta(s, base.source(from.layer), from.entry.dataOffset, from.entry.size, contentLen);
      }
      if (code & PAD_LITERAL) yield* pipeLit(s.lit, padLen);
      else if (padLen) yield new Uint8Array(padLen);
    } else {
      throw new CorruptPatchError(`patch has unknown op ${op}`);
    }
  }
}

/**
 * bsdiff triples (bsdiff.ts) over old = src[offset, offset+oldLen). Varints, difference bytes and
 * old bytes are taken synchronously while they are buffered and awaited only when a chunk or block
 * runs out: a promise per varint made this loop most of the apply's CPU time.
 */
export async function* applyDelta(s: LayerStreams, src: ByteSource, offset: number, oldLen: number, newLen: number): AsyncGenerator<Uint8Array> {
  const { ctrl, runs, diff, lit } = s;
  const old = new BlockCache(src);
  let out = new Uint8Array(OUT_BLOCK);
  let n = 0;
  /** the full block, to yield; a new one to fill (the yielded one is the consumer's now) */
  const full = () => {
    const b = out;
    out = new Uint8Array(OUT_BLOCK);
    n = 0;
    return b;
  };
  let oldPos = 0;
  let done = 0;
  while (done < newLen) {
    // indexed, not destructured: destructuring runs the array iterator in V8's lower tiers
    const triple = readTripleNow(ctrl, oldPos, done, oldLen, newLen) ?? (await readTriple(ctrl, oldPos, done, oldLen, newLen));
    oldPos = triple[0];
    const add = triple[1];
    const extra = triple[2];
    // add region: old bytes + zero-run coded differences (copied and added in place: no view per run)
    let left = add;
    while (left > 0) {
      let zeros = runs.uvarNow();
      if (zeros < 0) zeros = await runs.uvar();
      let nonzero = runs.uvarNow();
      if (nonzero < 0) nonzero = await runs.uvar();
      if (zeros + nonzero > left || zeros + nonzero === 0) throw new CorruptPatchError('patch delta differences are out of bounds');
      for (let z = zeros; z > 0; ) {
        const want = Math.min(z, OUT_BLOCK - n);
        // an unchanged run of a cache block or more is read straight into the output block where
        // the source can (the block cache's copy of it was 0.55 s of large-file's apply: 1 GiB copied twice)
        const direct = want >= old.blockSize && src.readIntoNow?.(out.subarray(n, n + want), offset + oldPos);
        const got = direct ? want : old.copyReadNow(offset + oldPos, want, out, n) || (await old.copy(offset + oldPos, want, out, n));
        n += got;
        oldPos += got;
        z -= got;
        if (n === OUT_BLOCK) yield full();
      }
      for (let k = nonzero; k > 0; ) {
        const want = Math.min(k, OUT_BLOCK - n);
        // the old bytes, then as many differences as are buffered added onto them (the rest is copied again)
        const got = old.copyReadNow(offset + oldPos, want, out, n) || (await old.copy(offset + oldPos, want, out, n));
        const d = diff.addNow(out, n, got) || (await diff.add(out, n, got));
        n += d;
        oldPos += d;
        k -= d;
        if (n === OUT_BLOCK) yield full();
      }
      left -= zeros + nonzero;
    }
    for (let k = extra; k > 0; ) {
      const got = lit.copyNow(out, n, Math.min(k, OUT_BLOCK - n)) || (await lit.copyInto(out, n, Math.min(k, OUT_BLOCK - n)));
      n += got;
      k -= got;
      if (n === OUT_BLOCK) yield full();
    }
    done += add + extra;
  }
  if (n > 0) yield out.subarray(0, n);
}
