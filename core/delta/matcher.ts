// Match finders for the differ: given a position in the new bytes, where in the old bytes does a
// long match start? A suffix array answers exactly (longest match); a hash-chain index answers
// nearly as well (the longest of a few candidates) in less time, for files too large to sort.
import { suffixArray } from './sais.js';

export interface Matcher {
  /** Length of a (long) match of nw[scan..end) in the old bytes; its old offset is left in `pos`. */
  find(nw: Uint8Array, scan: number, end: number): number;
  pos: number;
}

function matchLen(old: Uint8Array, op: number, nw: Uint8Array, np: number, end: number): number {
  const max = Math.min(old.length - op, end - np);
  let i = 0;
  while (i < max && old[op + i] === nw[np + i]) i++;
  return i;
}

/** Longest match by binary search over the suffix array of the old bytes (as bsdiff does). */
export class SuffixMatcher implements Matcher {
  pos = 0;
  private readonly sa: Int32Array;
  constructor(private readonly old: Uint8Array) {
    this.sa = suffixArray(old);
  }
  find(nw: Uint8Array, scan: number, end: number): number {
    const { sa, old } = this;
    if (sa.length === 0) return 0;
    let st = 0;
    let en = sa.length - 1;
    while (en - st >= 2) {
      const x = st + ((en - st) >> 1);
      // compare old[sa[x]..] with nw[scan..end)
      const op = sa[x]!;
      const max = Math.min(old.length - op, end - scan);
      let i = 0;
      while (i < max && old[op + i] === nw[scan + i]) i++;
      const less = i < max ? old[op + i]! < nw[scan + i]! : old.length - op < end - scan;
      if (less) st = x;
      else en = x;
    }
    const a = matchLen(old, sa[st]!, nw, scan, end);
    const b = matchLen(old, sa[en]!, nw, scan, end);
    if (a >= b) {
      this.pos = sa[st]!;
      return a;
    }
    this.pos = sa[en]!;
    return b;
  }
}

/** Bytes hashed per index key: the shortest match the chain index can find. */
const KEY = 8;
/** Candidates tried per lookup (longest wins): enough to pick a good one among repeats. */
const CHAIN_DEPTH = 16;
/** A match this long is taken without trying the remaining candidates. */
const LONG_ENOUGH = 4096;
/** A key seen again within this many bytes is a repeat, not indexed again. */
const REPEAT_SPAN = 256;
/** Old files up to this size have every 2nd position keyed (≤ 64 Mi keys, ~0.5 GiB of index). */
const DENSE_INDEX_LIMIT = 128 << 20;
/** Larger old files (which sit in memory whole) get a wider step: at most this many keys, ~256 MiB. */
const SPARSE_KEYS = 32 << 20;

/** Hash of the KEY (8) bytes at p, as two little-endian words: independent multiplies, not a chain of 8. */
function keyAt(buf: Uint8Array, p: number): number {
  const lo = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
  const hi = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24);
  return Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi, 0x85ebca6b);
}

/**
 * A hash-chain index over old bytes, in plain arrays that may live in SharedArrayBuffers: built
 * once (on one thread), then read by every thread diffing a window of the new file.
 */
export interface ChainIndex {
  old: Uint8Array;
  head: Int32Array;
  prev: Int32Array;
  step: number;
}

/** Key step for an old file of this size (see HashChainMatcher). */
function stepFor(size: number): number {
  return size <= DENSE_INDEX_LIMIT ? 2 : Math.ceil(size / SPARSE_KEYS);
}

/**
 * An empty index for `old`, its tables in SharedArrayBuffers when `shared` (then `old` should be
 * shared too, so workers see it without a copy); fill it with fillChainIndex.
 */
export function allocChainIndex(old: Uint8Array, shared = false): ChainIndex {
  const step = stepFor(old.length);
  const keys = old.length >= KEY ? Math.floor((old.length - KEY) / step) + 1 : 0;
  let size = 1 << 10;
  while (size < keys) size <<= 1;
  const ints = (n: number) => (shared ? new Int32Array(new SharedArrayBuffer(n * 4)) : new Int32Array(n));
  return { old, head: ints(size).fill(-1), prev: ints(keys), step };
}

/** The head slot of the key at buf[p..p+KEY) in a table of mask + 1 slots. */
export function keySlot(buf: Uint8Array, p: number, mask: number): number {
  const h = keyAt(buf, p);
  return (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 3) & mask;
}

/** Keys whose head slots are read ahead together (fillChainIndex). */
const FILL_BATCH = 64;
/** New positions whose chain heads a lookup reads ahead (HashChainMatcher.find). */
const FIND_AHEAD = 16;
/** Where the read-ahead loads' values go, so that the compiler keeps them. */
let _readAhead = 0;

/**
 * Fills the index, keys in old-file order. The head table is far larger than the caches and each
 * key's slot is random, so a key at a time waits on one memory load after another: the slots of
 * FILL_BATCH keys are computed first and their head entries read in a loop of independent loads
 * (which the CPU overlaps), then the keys are inserted in order as before, from cache. Node binary
 * (117 MB, 58.7M keys): 8.7 s of CPU a key at a time, 2.4 s so; the same tables. (Filled in parts
 * on two threads, each part still hashes every key: 6.4 s per part a key at a time, 3.2 s batched,
 * more than the whole in one thread.)
 */
export function fillChainIndex(ix: ChainIndex): void {
  const { old, head, prev, step } = ix;
  const mask = head.length - 1;
  const slots = new Int32Array(FILL_BATCH);
  let touched = 0;
  for (let k0 = 0; k0 < prev.length; k0 += FILL_BATCH) {
    const n = Math.min(FILL_BATCH, prev.length - k0);
    for (let i = 0; i < n; i++) slots[i] = keySlot(old, (k0 + i) * step, mask);
    for (let i = 0; i < n; i++) touched ^= head[slots[i]!]!;
    for (let i = 0; i < n; i++) {
      const k = k0 + i;
      const slot = slots[i]!;
      const last = head[slot]!;
      // Inside a repeat (zero padding, tables) the same key recurs every few bytes; keeping only the
      // first position lets a lookup find the long match from the repeat's start instead of a chain
      // full of short ones near its end.
      if (last >= 0 && (k - last) * step <= REPEAT_SPAN && matchLen(old, last * step, old, k * step, k * step + KEY) === KEY) continue;
      prev[k] = last;
      head[slot] = k;
    }
  }
  _readAhead ^= touched;
}

/**
 * Hash-chain index over the old bytes, for files too large to suffix-sort in time: every
 * `step`-th position is keyed by its next KEY bytes, and a lookup tries the CHAIN_DEPTH most
 * recent positions with the same key, returning the longest match. Finds any match of at least
 * KEY + step − 1 bytes. step is 2 up to 128 MiB; beyond, it grows with the file so the index
 * (4 bytes per key plus a head table) stays near 256 MiB: a 1.3 GiB file gets step 40.
 * On the node binary (117 → 120 MB) this brings the patch from 9.01 MB (32-byte aligned block
 * hashes) to 8.48 MB, what a full suffix array gives (docs/bench.md).
 */
export class HashChainMatcher implements Matcher {
  pos = 0;
  private readonly old: Uint8Array;
  private readonly step: number;
  private readonly head: Int32Array;
  private readonly prev: Int32Array;
  private readonly mask: number;
  /** Chain heads of the new positions [aheadFrom, aheadTo) of `aheadOf`, read ahead (see find). */
  private readonly ahead = new Int32Array(FIND_AHEAD);
  private aheadOf: Uint8Array | undefined;
  private aheadFrom = 0;
  private aheadTo = 0;
  /** Builds the index over `old` in this thread, or wraps one already filled. */
  constructor(old: Uint8Array | ChainIndex) {
    let ix: ChainIndex;
    if (old instanceof Uint8Array) {
      ix = allocChainIndex(old);
      fillChainIndex(ix);
    } else ix = old;
    ({ old: this.old, head: this.head, prev: this.prev, step: this.step } = ix);
    this.mask = this.head.length - 1;
  }
  /**
   * The differ looks up one new position after the other where nothing matches; each lookup waits
   * on its head slot, then on each candidate (prev link and old bytes). So the heads of the next
   * FIND_AHEAD positions are read at once (independent loads) and the first candidate of each is
   * touched, and lookups there start from cache. Node binary windows (22.1M lookups): 21.8 -> 16.1 s
   * of CPU, the same matches.
   */
  private readAhead(nw: Uint8Array, scan: number): void {
    const { ahead, head, prev, old, step, mask } = this;
    const n = Math.max(0, Math.min(FIND_AHEAD, nw.length - KEY + 1 - scan));
    for (let i = 0; i < n; i++) ahead[i] = keySlot(nw, scan + i, mask);
    for (let i = 0; i < n; i++) ahead[i] = head[ahead[i]!]!;
    let touched = 0;
    for (let i = 0; i < n; i++) {
      const k = ahead[i]!;
      if (k >= 0) touched ^= prev[k]! ^ old[k * step]!;
    }
    _readAhead ^= touched;
    this.aheadOf = nw;
    this.aheadFrom = scan;
    this.aheadTo = scan + n;
  }
  find(nw: Uint8Array, scan: number, end: number): number {
    if (end - scan < KEY) return 0;
    if (nw !== this.aheadOf || scan < this.aheadFrom || scan >= this.aheadTo) this.readAhead(nw, scan);
    let best = 0;
    let k = this.ahead[scan - this.aheadFrom]!;
    for (let d = 0; k >= 0 && d < CHAIN_DEPTH; d++, k = this.prev[k]!) {
      const len = matchLen(this.old, k * this.step, nw, scan, end);
      if (len > best) {
        best = len;
        this.pos = k * this.step;
        // In long repeats every candidate matches for megabytes; comparing them all is quadratic.
        if (len >= LONG_ENOUGH) break;
      }
    }
    return best >= KEY ? best : 0;
  }
}
