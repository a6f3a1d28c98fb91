// The differ as jobs: old and new bytes in, the bsdiff streams out. Runs in-thread here;
// io/delta/pool.ts runs the same functions on worker threads.
import { diffBytes, diffRange, newDiffOutput, type DiffOutput } from './bsdiff.js';
import { ByteWriter, VarintReader } from './bytes.js';
import { fillChainIndex, HashChainMatcher, SuffixMatcher, type ChainIndex } from './matcher.js';
import { x86Differences, type X86Context } from './elf/delta.js';
import { applyWordMap, encodeWordMap, findWordMap, renamedShare, wordsOf, WORDS_MAX_OLD } from './words.js';

export interface DiffResult {
  ctrl: Uint8Array;
  runs: Uint8Array;
  diff: Uint8Array;
  extra: Uint8Array;
  /** runs/diff are taken against x86-64 reference predictions (elf/delta.ts). */
  x86: boolean;
  /** The word map (words.ts, as written to ops) the triples' old bytes have applied; absent: none. */
  words?: Uint8Array;
}

/**
 * One window of a large file diffed on its own: its first control seek is from old position 0
 * (joinWindows makes it relative to where the previous window left off); `oldEnd` is where it left off.
 */
export interface WindowResult extends DiffResult {
  oldEnd: number;
}

export interface Differ {
  diff(old: Uint8Array, nw: Uint8Array): Promise<DiffResult>;
  /** Fills a chain index (allocChainIndex), on another thread when `shared`. */
  index(ix: ChainIndex): Promise<void>;
  /** Diffs nw, the window at `newBase` of a large new file, against the indexed old file. */
  window(ix: ChainIndex, nw: Uint8Array, newBase: number): Promise<WindowResult>;
  /** Jobs run on other threads: large files' old bytes and index go in SharedArrayBuffers. */
  readonly shared: boolean;
  /** Threads the jobs run on. */
  readonly threads: number;
}

export function takeResult(out: DiffOutput): DiffResult {
  return { ctrl: out.ctrl.take(), runs: out.runs.take(), diff: out.diff.take(), extra: out.extra.take(), x86: false };
}

/**
 * Takes the x86-64 prediction's differences when the old file is an ELF executable and they are
 * smaller (raw bytes: runs plus nonzero differences, what brotli mostly pays for); their literal
 * bytes too where the .eh_frame_hdr table is carried as differences (elf/ehtable.ts). `cx`: the
 * files' x86Context, when taken already.
 */
export function withX86Prediction(old: Uint8Array, nw: Uint8Array, r: DiffResult, cx?: X86Context): DiffResult {
  const p = x86Differences(old, nw, r.ctrl, undefined, cx);
  return p && p.runs.length + p.diff.length < r.runs.length + r.diff.length ? { ...r, ...p, x86: true } : r;
}

export function diffJob(old: Uint8Array, nw: Uint8Array): DiffResult {
  const out = diffBytes(old, nw, new SuffixMatcher(old), newDiffOutput());
  const r = withX86Prediction(old, nw, takeResult(out));
  return r.x86 ? r : withWordMap(old, nw, r);
}

/**
 * A word map is tried only where the plain delta's runs and nonzero differences (what a map can
 * save) are at least this many bytes and WORDS_MIN_SHARE of the new file: aligning the skeletons
 * costs up to a second per 20 KB of repetitive JSON (base-on-device: 16 tries, 2.2 s, none kept,
 * at a 64-byte threshold); the two minified files where maps pay have 1,669 and 11,754 B, 13–16 %.
 */
const WORDS_MIN_DIFF = 1024;
const WORDS_MIN_SHARE = 0.02;
/**
 * ...and where at least this share of the nonzero differences fall in renamable words (renamedShare):
 * 0.76 and 0.80 on the two minified files, at most 0.1 on the files of base-on-device and app-update
 * that passed the size test (JSON, a generated script whose numbers changed).
 */
const WORDS_MIN_RENAMED = 0.5;
/** A word map is kept when the mapped delta and the map are at most this share of the plain delta (raw bytes). */
const WORDS_KEEP = 0.9;
/** Text: no NUL in the old file's first this many bytes. */
const TEXT_PROBE = 8192;
const rawCost = (r: DiffResult) => r.ctrl.length + r.runs.length + r.diff.length + r.extra.length;

/**
 * Takes a delta against the old text with its words renamed (words.ts) when that and the map are
 * smaller than the plain delta (raw bytes, as withX86Prediction decides): a re-minified script.
 */
export function withWordMap(old: Uint8Array, nw: Uint8Array, r: DiffResult): DiffResult {
  if (old.length > WORDS_MAX_OLD || r.runs.length + r.diff.length < Math.max(WORDS_MIN_DIFF, nw.length * WORDS_MIN_SHARE) || old.subarray(0, TEXT_PROBE).includes(0)) return r;
  if (renamedShare(nw, r.ctrl, r.runs) < WORDS_MIN_RENAMED) return r;
  const words = wordsOf(old);
  const map = findWordMap(old, nw, words);
  if (map.length === 0) return r;
  const mapped = applyWordMap(old, words, map);
  const m = takeResult(diffBytes(mapped, nw, new SuffixMatcher(mapped), newDiffOutput()));
  const code = encodeWordMap(words, map);
  return rawCost(m) + code.length <= rawCost(r) * WORDS_KEEP ? { ...m, words: code } : r;
}

/**
 * Diffs one window on its own (from old position 0, on the diagonal old = new), so windows can run
 * at once on several threads and give the same bytes whatever the timing.
 */
export function windowJob(ix: ChainIndex, nw: Uint8Array, newBase: number): WindowResult {
  const out = newDiffOutput();
  const { oldCursor } = diffRange(ix.old, new HashChainMatcher(ix), nw, out, { oldCursor: 0, lastOffset: 0 }, newBase);
  return { ...takeResult(out), oldEnd: oldCursor };
}

/** Rewrites a window's first control seek to start from `oldCursor` (its varint may change length). */
export function rebaseWindow(r: WindowResult, oldCursor: number): DiffResult {
  const { ctrl } = r;
  const v = new VarintReader(ctrl);
  const seek = v.svar();
  const w = new ByteWriter(ctrl.length + 8);
  w.svar(seek - oldCursor);
  w.bytes(ctrl.subarray(v.pos));
  return { ctrl: w.take(), runs: r.runs, diff: r.diff, extra: r.extra, x86: false };
}

/** Windows' results in order as one whole-file result (the streams a single diffRange would write). */
export function joinWindows(windows: WindowResult[]): DiffResult {
  let cursor = 0;
  const parts = windows.map((r) => {
    const p = rebaseWindow(r, cursor);
    cursor = r.oldEnd;
    return p;
  });
  const cat = (k: 'ctrl' | 'runs' | 'diff' | 'extra') => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p[k].length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p[k], o);
      o += p[k].length;
    }
    return out;
  };
  return { ctrl: cat('ctrl'), runs: cat('runs'), diff: cat('diff'), extra: cat('extra'), x86: false };
}

export const inThreadDiffer: Differ = {
  diff: async (old, nw) => diffJob(old, nw),
  index: async (ix) => fillChainIndex(ix),
  window: async (ix, nw, newBase) => windowJob(ix, nw, newBase),
  shared: false,
  threads: 1,
};
