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
  private readonly step: number;
  private readonly head: Int32Array;
  private readonly prev: Int32Array;
  private readonly mask: number;
  constructor(private readonly old: Uint8Array) {
    this.step = old.length <= DENSE_INDEX_LIMIT ? 2 : Math.ceil(old.length / SPARSE_KEYS);
    const keys = old.length >= KEY ? Math.floor((old.length - KEY) / this.step) + 1 : 0;
    let size = 1 << 10;
    while (size < keys) size <<= 1;
    this.mask = size - 1;
    this.head = new Int32Array(size).fill(-1);
    this.prev = new Int32Array(keys);
    for (let k = 0; k < keys; k++) {
      const slot = this.slot(keyAt(old, k * this.step));
      const last = this.head[slot]!;
      // Inside a repeat (zero padding, tables) the same key recurs every few bytes; keeping only the
      // first position lets a lookup find the long match from the repeat's start instead of a chain
      // full of short ones near its end.
      if (last >= 0 && (k - last) * this.step <= REPEAT_SPAN && matchLen(old, last * this.step, old, k * this.step, k * this.step + KEY) === KEY) continue;
      this.prev[k] = last;
      this.head[slot] = k;
    }
  }
  private slot(h: number): number {
    return (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 3) & this.mask;
  }
  find(nw: Uint8Array, scan: number, end: number): number {
    if (end - scan < KEY) return 0;
    let best = 0;
    let k = this.head[this.slot(keyAt(nw, scan))]!;
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
