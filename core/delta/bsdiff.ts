// A bsdiff-class binary differ (Percival's algorithm): exact matches found by a Matcher are
// extended forwards and backwards while more than half the bytes agree, so code that moved and
// had its addresses shifted becomes a mostly-zero "diff" run instead of literal bytes.
//
// Output, for the new bytes in order, as control triples (seek, add, extra):
//   oldPos += seek; then `add` bytes are new = old[oldPos..] + diff (mod 256), oldPos += add;
//   then `extra` bytes come literally.
// Differences are zero-run coded because they are mostly zeros: the run lengths and the nonzero
// bytes go to separate streams, which brotli models better apart (on the node binary, 4.37 MB
// together, 4.13 MB apart). (Carrying the new bytes instead of differences for text files was
// measured: 8% larger on the corpus's app update.)
import { ByteWriter, CorruptPatchError, unzigzag, zigzag, type ChunkReader } from './bytes.js';
import type { Matcher } from './matcher.js';

export interface DiffOutput {
  /** Control triples as varints: svar seek, uvar add, uvar extra. */
  ctrl: ByteWriter;
  /** Add-region difference runs: repeated (uvar zeros, uvar n), n bytes of `diff` each. */
  runs: ByteWriter;
  /** The nonzero-run difference bytes. */
  diff: ByteWriter;
  /** Literal bytes. */
  extra: ByteWriter;
}

export function newDiffOutput(): DiffOutput {
  return { ctrl: new ByteWriter(), runs: new ByteWriter(), diff: new ByteWriter(), extra: new ByteWriter() };
}

/**
 * Equal bytes that end a nonzero difference run (encoder only: the applier reads whatever runs it
 * is given). On the node binary pair (x86-predicted, runs + nonzero differences, brotli 11 each):
 * 1: 1,990,070 B, 2: 1,989,451, 3: 2,005,548, 4: 2,014,129, 8: 2,111,743.
 */
const RUN_BREAK = 2;

/** Zero-run codes the difference nw[np..np+len) − old[op..op+len). */
export function writeDiff(out: DiffOutput, old: Uint8Array, op: number, nw: Uint8Array, np: number, len: number): void {
  let i = 0;
  while (i < len) {
    let z = i;
    while (z < len && old[op + z] === nw[np + z]) z++;
    let k = z;
    // A nonzero run ends at the first stretch of RUN_BREAK equal bytes, so a lone equal byte stays inline.
    while (k < len) {
      if (old[op + k] === nw[np + k]) {
        let e = k;
        while (e < len && e - k < RUN_BREAK && old[op + e] === nw[np + e]) e++;
        if (e - k >= RUN_BREAK || e === len) break;
        k = e;
      } else k++;
    }
    out.runs.uvar(z - i);
    out.runs.uvar(k - z);
    for (let j = z; j < k; j++) out.diff.byte((nw[np + j]! - old[op + j]!) & 0xff);
    i = k;
  }
}

/**
 * Reads the control triple that follows old position `oldPos` and new position `done` (what a
 * writer's ctrl holds, as `diffRange` writes it) and checks it against the two lengths: the new old
 * position, the add length and the extra length, when the control holds all three varints now;
 * else undefined, nothing consumed (an async call per triple, 250k of them for the node binary,
 * was a promise and a microtask turn each).
 */
export function readTripleNow(ctrl: ChunkReader, oldPos: number, done: number, oldLen: number, newLen: number): [number, number, number] | undefined {
  // three varints of at most 8 bytes: a -1 with 24 bytes buffered is an overlong one
  if (ctrl.buffered() < 24) return undefined;
  const z = ctrl.uvarNow();
  const add = ctrl.uvarNow();
  const extra = ctrl.uvarNow();
  if (z < 0 || add < 0 || extra < 0) throw new CorruptPatchError('patch delta control has an overlong varint');
  const seek = oldPos + unzigzag(z);
  if (seek < 0 || seek + add > oldLen || done + add + extra > newLen) throw new CorruptPatchError('patch delta control is out of bounds');
  return [seek, add, extra];
}

/** As readTripleNow, waiting for the control's bytes where they are not buffered. */
export async function readTriple(ctrl: ChunkReader, oldPos: number, done: number, oldLen: number, newLen: number): Promise<[number, number, number]> {
  const now = readTripleNow(ctrl, oldPos, done, oldLen, newLen);
  if (now) return now;
  const seek = oldPos + (ctrl.svarNow() ?? (await ctrl.svar()));
  let add = ctrl.uvarNow();
  if (add < 0) add = await ctrl.uvar();
  let extra = ctrl.uvarNow();
  if (extra < 0) extra = await ctrl.uvar();
  if (seek < 0 || seek + add > oldLen || done + add + extra > newLen) throw new CorruptPatchError('patch delta control is out of bounds');
  return [seek, add, extra];
}

// Cover selection's cost model, in compressed bytes per raw byte of each stream as brotli 10 codes
// them on the node binary pair (22.11 -> 22.12): literal 0.355, nonzero differences 0.45, zero-run
// lengths 0.3, control varints 0.58.
const LITERAL_COST = 0.355;
const DIFF_COST = 0.45;
const RUN_COST = 0.3;
const CTRL_COST = 0.58;
/**
 * A cover is kept only when its bytes as literals would cost this much more than the cover itself
 * (estimated compressed bytes). On the node binary pair (the four streams after x86 prediction,
 * brotli 5 probe): no dropping 7,391,114 B; margin -1 7,322,471; 0 7,262,613; 1 7,189,904;
 * 2 7,139,799; 4 7,248,900; 7 7,229,307; 12 7,312,569 (docs/patch-format.md).
 */
const DROP_MARGIN = 2;
const uvarLen = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
const svarLen = (n: number) => uvarLen(zigzag(n));

/** Covers (old position, new position, length) in new-file order; each one's extra runs to the next one's start. */
class Covers {
  old = new Int32Array(1024);
  nw = new Int32Array(1024);
  len = new Int32Array(1024);
  length = 0;
  push(op: number, np: number, len: number): void {
    if (this.length === this.old.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.old = grow(this.old);
      this.nw = grow(this.nw);
      this.len = grow(this.len);
    }
    this.old[this.length] = op;
    this.nw[this.length] = np;
    this.len[this.length++] = len;
  }
  /**
   * Drops covers whose estimated compressed cost (control varints, difference runs and nonzero
   * bytes) saves less than DROP_MARGIN on what their bytes would cost as literals: short chance
   * matches, whose control triple costs more than the few literal bytes they spare, and empty
   * covers (a match whose backward extension took all of the cover before it), whose triple would
   * only move the old position (the next triple's seek then counts from the same place). On the
   * node binary pair 45,494 of 211,037 triples were empty, far seeks there and back (string tables).
   */
  drop(oldBytes: Uint8Array, nwBytes: Uint8Array, oldCursor: number): void {
    const { old, nw, len } = this;
    let w = 0;
    let cursor = oldCursor;
    for (let k = 0; k < this.length; k++) {
      const n = len[k]!;
      if (k > 0) {
        let nonzero = 0;
        let runs = 1;
        let prevEq = true;
        for (let i = 0; i < n; i++) {
          const eq = oldBytes[old[k]! + i] === nwBytes[nw[k]! + i];
          if (!eq) nonzero++;
          if (eq !== prevEq) runs++;
          prevEq = eq;
        }
        const ctrl = svarLen(old[k]! - cursor) + uvarLen(n) + 1;
        if (n * LITERAL_COST - nonzero * DIFF_COST - runs * RUN_COST - ctrl * CTRL_COST < DROP_MARGIN) continue;
      }
      old[w] = old[k]!;
      nw[w] = nw[k]!;
      len[w++] = n;
      cursor = old[k]! + n;
    }
    this.length = w;
  }
}

export interface DiffState {
  /** Old position where the previous window left off (control seeks are relative to it). */
  oldCursor: number;
  /** Diagonal (old − new offset, in whole-file coordinates) the previous window ended on. */
  lastOffset: number;
}

/**
 * Diffs nw[from..to) against old, appending to `out`. Whole files pass from=0, to=nw.length; the
 * windowed differ calls it per window with `newBase` = the window's offset in the whole new file
 * and carries `state` between calls.
 */
export function diffRange(
  old: Uint8Array,
  matcher: Matcher,
  nw: Uint8Array,
  out: DiffOutput,
  state: DiffState = { oldCursor: 0, lastOffset: 0 },
  newBase = 0,
): DiffState {
  const newSize = nw.length;
  const oldSize = old.length;
  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastScan = 0;
  let lastOffset = Math.max(-newBase, Math.min(oldSize - newBase, state.lastOffset)) + newBase;
  let lastPos = lastOffset;
  let oldCursor = state.oldCursor;

  const covers = new Covers();
  const emit = (lenf: number) => covers.push(lastPos, lastScan, lenf);

  while (scan < newSize) {
    let oldScore = 0;
    let scsc = (scan += len);
    for (; scan < newSize; scan++) {
      len = matcher.find(nw, scan, newSize);
      pos = matcher.pos;
      for (; scsc < scan + len; scsc++) if (scsc + lastOffset < oldSize && old[scsc + lastOffset] === nw[scsc]) oldScore++;
      if ((len === oldScore && len !== 0) || len > oldScore + 8) break;
      if (scan + lastOffset < oldSize && old[scan + lastOffset] === nw[scan]) oldScore--;
      // Long stretches where the current diagonal is as good as the best match: skip ahead
      // instead of re-searching every byte (bsdiff is quadratic there otherwise).
      if (len > 256) {
        const skip = len - 64;
        for (let k = scan + 1; k <= scan + skip; k++) if (k + lastOffset < oldSize && old[k + lastOffset] === nw[k]) oldScore--;
        scan += skip;
      }
    }
    if (len !== oldScore || scan === newSize) {
      let s = 0;
      let sf = 0;
      let lenf = 0;
      for (let i = 0; lastScan + i < scan && lastPos + i < oldSize; ) {
        if (old[lastPos + i] === nw[lastScan + i]) s++;
        i++;
        if (s * 2 - i > sf * 2 - lenf) {
          sf = s;
          lenf = i;
        }
      }
      let lenb = 0;
      if (scan < newSize) {
        let sb = 0;
        s = 0;
        for (let i = 1; scan >= lastScan + i && pos >= i; i++) {
          if (old[pos - i] === nw[scan - i]) s++;
          if (s * 2 - i > sb * 2 - lenb) {
            sb = s;
            lenb = i;
          }
        }
      }
      if (lastScan + lenf > scan - lenb) {
        const overlap = lastScan + lenf - (scan - lenb);
        s = 0;
        let ss = 0;
        let lens = 0;
        for (let i = 0; i < overlap; i++) {
          if (nw[lastScan + lenf - overlap + i] === old[lastPos + lenf - overlap + i]) s++;
          if (nw[scan - lenb + i] === old[pos - lenb + i]) s--;
          if (s > ss) {
            ss = s;
            lens = i + 1;
          }
        }
        lenf += lens - overlap;
        lenb -= lens;
      }
      emit(lenf);
      lastScan = scan - lenb;
      lastPos = pos - lenb;
      lastOffset = pos - scan;
    }
  }
  covers.drop(old, nw, oldCursor);
  for (let k = 0; k < covers.length; k++) {
    const op = covers.old[k]!;
    const np = covers.nw[k]!;
    const len = covers.len[k]!;
    const extraEnd = k + 1 < covers.length ? covers.nw[k + 1]! : newSize;
    out.ctrl.svar(op - oldCursor);
    out.ctrl.uvar(len);
    out.ctrl.uvar(extraEnd - np - len);
    writeDiff(out, old, op, nw, np, len);
    out.extra.bytes(nw.subarray(np + len, extraEnd));
    oldCursor = op + len;
  }
  return { oldCursor, lastOffset: lastOffset - newBase };
}

/** Whole-file diff with a suffix-array matcher. */
export function diffBytes(old: Uint8Array, nw: Uint8Array, matcher: Matcher, out: DiffOutput = newDiffOutput()): DiffOutput {
  diffRange(old, matcher, nw, out);
  return out;
}
