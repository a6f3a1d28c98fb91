// bsdiff deltas of x86-64 ELF files with reference prediction (references.ts): the same control
// triples and literal bytes as a plain delta, but the differences are taken against the old bytes
// with their references moved, so a recompile's shifted calls and pointers cost nothing where the
// prediction holds. Content kinds DELTA_REF_X86 / DELTA_OTHER_X86 (ops.ts).
import { newDiffOutput, readTriple, readTripleNow, writeDiff } from '../bsdiff.js';
import { BlockCache, blockPlan, ByteWriter, copyBytes, CorruptPatchError, VarintReader, type ByteSource, type ChunkReader } from '../bytes.js';
import { restoreTable, withTableDifferences, type LiteralSpans } from './ehtable.js';
import { elfLayout, HEAD_BYTES, type ElfLayout } from './layout.js';
import { ALL_SITES, AddressMap, MAP_MIN_LEN, Predictor, SCAN_REACH, SiteFeed, siteRanges, scanSites, scanSitesSync, type SiteOptions, type SiteScanner, type Sites } from './references.js';
import { bssShift, ENTRY, matchSymbols, readSymbolTables, restoreTables, sectionHeaders, subtractTables, writeSymbolTables, zeroTables, type Section, type SymbolContext, type SymbolTable } from './symbols.js';

/** Larger old files are not predicted (site offsets are 32-bit; the builder holds old and new whole). */
export const X86_MAX_OLD = 1 << 30;
/** Old bytes predicted per step in the applier. */
const PIECE = 64 << 10;
/** Old code bytes scanned per read in the applier. */
const SCAN_CHUNK = 1 << 20;
/** Output of a delta is gathered into blocks of this size: the pieces are often a few bytes. */
const OUT_BLOCK = 256 << 10;
/**
 * The applier's cache of old bytes: 4 MiB in 16 KiB blocks. The add regions jump about the old file
 * (node 22.11 → 22.12: 211k regions, 209k of them under 4 KiB), and 64 KiB blocks read it 5.8 times
 * over (10.5k reads, 685 MB); 16 KiB blocks read 260 MB in 15.9k reads, 8 KiB 189 MB in 23k. 8 MiB
 * of them took runtime-update's apply 4.7 MB higher (9 alternating runs at load 3-5: 115.5 against
 * 110.7 MB peak, medians) for at most ~0.1 s of CPU saved (inside that load's noise).
 */
const OLD_BLOCK = 16 << 10;
const OLD_BLOCKS = 256;
/** 64 KiB blocks of old symbol entries cached in the applier (the matches mostly run in old order). */
const SYMBOL_CACHE_BLOCKS = 8;

/** Whether a delta from an old file starting with `head` may be predicted (the builder then holds both files whole). */
export function predictable(head: Uint8Array, oldSize: number, newSize: number): boolean {
  return oldSize <= X86_MAX_OLD && newSize <= X86_MAX_OLD && elfLayout(head, oldSize) !== undefined;
}

/** The layer sections a delta reads (apply.ts LayerStreams has them). */
export interface DeltaStreams {
  ctrl: ChunkReader;
  runs: ChunkReader;
  diff: ChunkReader;
  lit: ChunkReader;
}

interface Regions {
  newStart: number[];
  oldStart: number[];
  add: number[];
  extra: number[];
}

/**
 * The literal parts of new offsets [start, end) under the control triples `triples` (bsdiff.ts
 * varints, in new-file order), found by walking them: each side asks once per delta (the
 * .eh_frame_hdr table's range).
 */
function literalSpans(triples: Uint8Array): LiteralSpans {
  return (start, end) => {
    const spans: Array<[number, number]> = [];
    const v = new VarintReader(triples);
    for (let newPos = 0; !v.done && newPos < end; ) {
      v.svar();
      const lit = newPos + v.uvar();
      newPos = lit + v.uvar();
      const s = Math.max(start, lit);
      const e = Math.min(end, newPos);
      if (s < e) spans.push([s, e]);
    }
    return spans;
  };
}

/** The control triples of one delta (bsdiff.ts) as add regions. */
function regionsOf(ctrl: Uint8Array): Regions {
  const r: Regions = { newStart: [], oldStart: [], add: [], extra: [] };
  const v = new VarintReader(ctrl);
  let oldPos = 0;
  let newPos = 0;
  while (!v.done) {
    oldPos += v.svar();
    const add = v.uvar();
    const extra = v.uvar();
    r.newStart.push(newPos);
    r.oldStart.push(oldPos);
    r.add.push(add);
    r.extra.push(extra);
    oldPos += add;
    newPos += add + extra;
  }
  return r;
}

/** What x86Differences needs of the two files that does not depend on their alignment. */
export interface X86Context {
  layout: ElfLayout;
  sites: Sites;
  oldSections: Section[] | undefined;
  newSections: Section[] | undefined;
  tables: SymbolTable[];
}

/**
 * The old file's layout and reference sites and the two files' symbol matches: undefined when `old`
 * is not an x86-64 ELF file this predicts. Apart from x86Differences so that the builder can take
 * them while the old file is indexed (node binary: ~1.9 of the prediction's ~5 s of CPU).
 */
export function x86Context(old: Uint8Array, newFile: Uint8Array, sites: SiteOptions = ALL_SITES): X86Context | undefined {
  if (old.length > X86_MAX_OLD) return undefined;
  const layout = elfLayout(old.subarray(0, HEAD_BYTES), old.length);
  if (!layout) return undefined;
  const oldSections = sectionHeaders(old);
  const newSections = sectionHeaders(newFile);
  return { layout, sites: scanSitesSync(layout, old, sites), oldSections, newSections, tables: matchSymbols(old, newFile, oldSections, newSections) };
}

/**
 * The difference and literal streams (runs, diff, extra) of a delta whose control triples are
 * `ctrl`, taken against the predicted old bytes, for the new file with its .eh_frame_hdr table
 * replaced by its difference from the predicted one (ehtable.ts) and its symbol tables by their
 * differences from the entries predicted from the old ones (symbols.ts; format 6), and the control
 * with the symbol matches after the triples; undefined when `old` is not an x86-64 ELF file this predicts.
 * `sites`: the reference sites predicted (an older format's, for tests); `cx`: x86Context of the
 * same files and sites, when already taken.
 */
export function x86Differences(old: Uint8Array, newFile: Uint8Array, ctrl: Uint8Array, sites: SiteOptions = ALL_SITES, cx = x86Context(old, newFile, sites)): { ctrl: Uint8Array; runs: Uint8Array; diff: Uint8Array; extra: Uint8Array } | undefined {
  if (!cx) return undefined;
  const { layout, oldSections, newSections, tables } = cx;
  const r = regionsOf(ctrl);
  const map = new AddressMap(r.newStart, r.oldStart, r.add);
  let nw = withTableDifferences(newFile, literalSpans(ctrl));
  if (tables.length) {
    if (nw === newFile) nw = newFile.slice();
    subtractTables(tables, { layout, map }, old, nw);
  }
  const shift = sites.bss ? bssShift(oldSections, newSections) : undefined;
  const predictor = new Predictor(layout, cx.sites, map, shift);
  const out = newDiffOutput();
  let piece = new Uint8Array(0);
  for (let i = 0; i < r.add.length; i++) {
    const o = r.oldStart[i]!;
    const len = r.add[i]!;
    if (piece.length < len) piece = new Uint8Array(Math.max(len, piece.length * 2, 1 << 16));
    predictor.predict(old, 0, o, o + len, o, o + len, r.newStart[i]! - o, piece);
    zeroTables(tables, r.newStart[i]!, len, piece);
    writeDiff(out, piece, 0, nw, r.newStart[i]!, len);
  }
  for (let i = 0; i < r.add.length; i++) out.extra.bytes(nw.subarray(r.newStart[i]! + r.add[i]!, r.newStart[i]! + r.add[i]! + r.extra[i]!));
  const w = new ByteWriter(ctrl.length + 16 + tables.reduce((n, t) => n + t.count, 0));
  w.bytes(ctrl);
  writeSymbolTables(w, tables);
  if (shift !== undefined) w.svar(shift);
  return { ctrl: w.take(), runs: out.runs.take(), diff: out.diff.take(), extra: out.extra.take() };
}

/**
 * Applies a predicted delta over old = src[offset, offset+oldLen). The delta's control triples are
 * read first (the address map needs all of them: kept as varints, 165k for the node binary), then
 * the old file's code is scanned once for reference sites (2 bytes each, 1.57M for the node
 * binary), then the triples are applied as in applyDelta with predicted old bytes. `ehTable`: the
 * new file's .eh_frame_hdr table is carried as differences from its prediction (format 5 on, ehtable.ts);
 * `symbols`: its symbol tables too, with the symbol matches after the control triples (format 6 on, symbols.ts);
 * `sites`: the reference sites predicted (references.ts: CIE pointers from format 7 on).
 */
export function applyX86Delta(s: DeltaStreams, src: ByteSource, offset: number, oldLen: number, newLen: number, ehTable = true, symbols = true, sites: SiteOptions = ALL_SITES, scanner?: SiteScanner): AsyncIterable<Uint8Array> {
  const triples: Control = { symbols, sites, scanner };
  const bytes = predictedDelta(s, src, offset, oldLen, newLen, triples);
  // predictedDelta has read every triple (and the symbol matches) before its first bytes
  const restored = ehTable ? restoreTable(bytes, newLen, (start, end) => literalSpans(triples.triples!)(start, end)) : bytes;
  if (!symbols) return restored;
  const old = new BlockCache(src, 64 << 10, SYMBOL_CACHE_BLOCKS);
  const entry = new Uint8Array(ENTRY);
  const fill = async (at: number, k: number, n: number): Promise<Uint8Array> => {
    while (k < n) k += await old.copy(offset + at + k, n - k, entry, k);
    return entry;
  };
  // synchronous where the entry's blocks are cached or the source reads without waiting (a promise per entry was a fifth of the delta's time)
  const oldEntry = (at: number, n: number): Uint8Array | Promise<Uint8Array> => {
    let k = 0;
    for (let got = 1; k < n && got > 0; k += got) got = old.copyReadNow(offset + at + k, n - k, entry, k);
    return k >= n ? entry : fill(at, k, n);
  };
  return restoreTables(restored, (): SymbolContext => ({ tables: triples.tables!, c: { layout: triples.layout, map: triples.map! }, oldEntry }));
}

/** What predictedDelta learns from the control before its first bytes. */
interface Control {
  symbols: boolean;
  sites: SiteOptions;
  scanner: SiteScanner | undefined;
  /** the control triples, as the patch codes them */
  triples?: Uint8Array;
  tables?: SymbolTable[];
  layout?: ElfLayout | undefined;
  map?: AddressMap;
}

/** The old file's reference sites, scanned on this thread in 1 MiB chunks, read into one buffer where the source can. */
async function scanHere(src: ByteSource, offset: number, oldLen: number, layout: ElfLayout, opts: SiteOptions): Promise<Sites> {
  const scanBuf = new Uint8Array(SCAN_CHUNK + SCAN_REACH + 1);
  const readScan = async (o: number, n: number) => {
    if (!src.readInto || n > scanBuf.length) return src.read(offset + o, n);
    const v = scanBuf.subarray(0, n);
    await src.readInto(v, offset + o);
    return v;
  };
  return scanSites(layout, oldLen, readScan, SCAN_CHUNK, opts);
}

/**
 * A predicted delta's control triples, read whole: kept as the patch codes them, ~5 bytes each (four
 * Int32Arrays took 16 and twice that while they grew: the node binary's 165k), and the address map
 * of the long regions. Apart, so that nothing but these two outlives the read (the regions' number
 * arrays, 1.2 MB on node, were held to the delta's end beside the map's copy of them).
 */
async function readTriples(ctrl: ChunkReader, oldLen: number, newLen: number): Promise<{ kept: Uint8Array; map: AddressMap }> {
  const kept = new ByteWriter(1 << 16);
  const long = { newStart: [] as number[], oldStart: [] as number[], add: [] as number[] };
  for (let done = 0, oldPos = 0; done < newLen; ) {
    // indexed, not destructured: destructuring ran the array iterator, 10 MB of garbage on node's 165k triples
    const triple = readTripleNow(ctrl, oldPos, done, oldLen, newLen) ?? (await readTriple(ctrl, oldPos, done, oldLen, newLen));
    const seek = triple[0];
    const add = triple[1];
    const extra = triple[2];
    kept.svar(seek - oldPos);
    kept.uvar(add);
    kept.uvar(extra);
    if (add >= MAP_MIN_LEN) {
      long.newStart.push(done);
      long.oldStart.push(seek);
      long.add.push(add);
    }
    oldPos = seek + add;
    done += add + extra;
  }
  // a view, not take()'s copy: the writer is done with, and its buffer would be held besides
  return { kept: kept.view(), map: new AddressMap(long.newStart, long.oldStart, long.add) };
}

/**
 * The old-byte cache's plan (BlockCache, blockPlan): the blocks predictedDelta's loop below will
 * ask for, in its order (each piece's old bytes with 8 on either side, clipped to its region).
 */
export function oldReadPlan(kept: Uint8Array, offset: number, size: number): Int32Array {
  // one pass into a growing array: this runs once, unoptimized (a counting pass first cost as much again)
  let sequence = new Int32Array(1 << 16);
  let uses = 0;
  let last = -1;
  const t = new VarintReader(kept);
  for (let o = 0; !t.done; ) {
    o += t.svar();
    const end = o + t.uvar();
    t.uvar();
    for (let a = o; a < end; ) {
      const b = Math.min(end, a + PIECE);
      const lo = Math.max(o, a - 8);
      const hi = Math.min(end, b + 8);
      for (let k = Math.floor((offset + lo) / OLD_BLOCK), top = Math.floor((offset + hi - 1) / OLD_BLOCK); k <= top; k++) {
        if (k === last) continue;
        if (uses === sequence.length) {
          const grown = new Int32Array(2 * uses);
          grown.set(sequence);
          sequence = grown;
        }
        sequence[uses++] = k;
        last = k;
      }
      a = b;
    }
    o = end;
  }
  return blockPlan(sequence.subarray(0, uses), Math.ceil(size / OLD_BLOCK));
}

/** applyX86Delta's bytes before the .eh_frame_hdr table is restored (the whole of it before format 5). */
async function* predictedDelta(s: DeltaStreams, src: ByteSource, offset: number, oldLen: number, newLen: number, triples: Control): AsyncGenerator<Uint8Array> {
  const { ctrl, runs, diff, lit } = s;
  if (oldLen > X86_MAX_OLD) throw new CorruptPatchError('patch predicts references in a file too large to predict');
  if (newLen > X86_MAX_OLD) throw new CorruptPatchError('patch predicts references in a file too large to predict');
  const layout = oldLen > 0 ? elfLayout(await src.read(offset, Math.min(oldLen, HEAD_BYTES)), oldLen) : undefined;
  // The reference scan goes on elsewhere where it can (the scanner's thread) while this one reads
  // the control and predicts the old file's start: it was the longest serial step of the apply.
  const feed = layout && triples.scanner ? new SiteFeed(await siteRanges(layout, (o, n) => src.read(offset + o, n))) : undefined;
  const elsewhere = feed !== undefined && triples.scanner!(src, offset, oldLen, layout!, triples.sites, feed);
  const { kept, map } = await readTriples(ctrl, oldLen, newLen);
  triples.triples = kept;
  const tables = triples.symbols ? await readSymbolTables(ctrl, oldLen, newLen) : [];
  triples.tables = tables;
  // format 7: how far .bss moved, after the symbol tables
  const shift = triples.sites.bss ? await ctrl.svar() : undefined;
  if (shift !== undefined && Math.abs(shift) > Number.MAX_SAFE_INTEGER / 2) throw new CorruptPatchError('patch .bss shift is out of bounds');
  triples.layout = layout;
  triples.map = map;
  const predictor = layout && new Predictor(layout, elsewhere ? feed.sites : await scanHere(src, offset, oldLen, layout, triples.sites), map, shift);
  const old = new BlockCache(src, OLD_BLOCK, OLD_BLOCKS, oldReadPlan(kept, offset, src.size));
  const buf = new Uint8Array(PIECE + 16);
  const piece = new Uint8Array(PIECE);
  let out = new Uint8Array(OUT_BLOCK);
  let n = 0;
  const t = new VarintReader(triples.triples);
  for (let newPos = 0, o = 0; !t.done; ) {
    o += t.svar();
    const end = o + t.uvar();
    const extra = t.uvar();
    let zeros = 0;
    let nonzero = 0;
    for (let a = o; a < end; ) {
      const b = Math.min(end, a + PIECE);
      const lo = Math.max(o, a - 8);
      const hi = Math.min(end, b + 8);
      if (elsewhere) {
        const known = feed.need(Math.max(o, a - 3), b);
        if (known) await known;
      }
      // The old bytes are read where they lie when one cached block holds them (most pieces are
      // under 4 KiB), else gathered into buf; the piece is predicted straight into the output block
      // when it fits there, else into `piece` and copied (its rest after the block is handed on).
      // Each byte was copied three times: block to buf, buf to piece, piece to the output.
      let from: Uint8Array = buf;
      let fromStart = lo;
      const inBlock = (offset + lo) % OLD_BLOCK;
      const block = inBlock + (hi - lo) <= OLD_BLOCK ? old.blockReadNow(offset + lo) : undefined;
      if (block) {
        from = block;
        fromStart = lo - inBlock;
      } else for (let k = lo; k < hi; ) k += old.copyReadNow(offset + k, hi - k, buf, k - lo) || (await old.copy(offset + k, hi - k, buf, k - lo));
      const len = b - a;
      const direct = len <= OUT_BLOCK - n;
      const into = direct ? out : piece;
      const at = direct ? n : 0;
      if (predictor) predictor.predict(from, fromStart, a, b, o, end, newPos - o, into, at);
      else copyBytes(into, at, from, a - fromStart, len);
      zeroTables(tables, a + newPos - o, len, into, at);
      // The region's zero-run coded differences are then added in place: copying each run of zero
      // differences on its own was ~0.2 s of runtime-update's apply.
      if (!direct) copyBytes(out, n, piece, 0, OUT_BLOCK - n);
      for (let j = 0; j < len; ) {
        if (zeros === 0 && nonzero === 0) {
          zeros = runs.uvarNow();
          if (zeros < 0) zeros = await runs.uvar();
          nonzero = runs.uvarNow();
          if (nonzero < 0) nonzero = await runs.uvar();
          if (zeros + nonzero > end - (a + j) || zeros + nonzero === 0) throw new CorruptPatchError('patch delta differences are out of bounds');
        }
        if (zeros > 0) {
          const take = Math.min(zeros, len - j, OUT_BLOCK - n);
          n += take;
          j += take;
          zeros -= take;
        } else {
          const want = Math.min(nonzero, len - j, OUT_BLOCK - n);
          const d = diff.addNow(out, n, want) || (await diff.add(out, n, want));
          n += d;
          j += d;
          nonzero -= d;
        }
        if (n === OUT_BLOCK) {
          yield out;
          out = new Uint8Array(OUT_BLOCK);
          n = 0;
          // the piece's rest (a piece is shorter than a block)
          copyBytes(out, 0, piece, j, len - j);
        }
      }
      a = b;
    }
    for (let k = extra; k > 0; ) {
      const got = lit.copyNow(out, n, Math.min(k, OUT_BLOCK - n)) || (await lit.copyInto(out, n, Math.min(k, OUT_BLOCK - n)));
      n += got;
      k -= got;
      if (n === OUT_BLOCK) {
        yield out;
        out = new Uint8Array(OUT_BLOCK);
        n = 0;
      }
    }
    newPos += end - o + extra;
    o = end;
  }
  if (n > 0) yield out.subarray(0, n);
}
