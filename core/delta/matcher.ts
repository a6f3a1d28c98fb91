// Match finders for the differ: given a position in the new bytes, where in the old bytes does a
// long match start? A suffix array answers exactly (longest match); a block-hash index answers
// approximately (some match of at least one block) in bounded memory, for files too large to sort.
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

const HASH_BLOCK = 32;
const PRIME = 0x01000193;

/**
 * Block-hash index: the hash of every HASH_BLOCK-aligned block of the old bytes; lookups roll the
 * hash over the new bytes one position at a time. Finds any match of ≥ 2·HASH_BLOCK−1 bytes, in
 * 4 bytes of index per block (a 1 GiB file takes 128 MiB).
 */
export class BlockHashMatcher implements Matcher {
  pos = 0;
  private readonly table: Int32Array;
  private readonly mask: number;
  private readonly outMul: number;
  private lastScan = -2;
  private lastEnd = -1;
  private hash = 0;
  constructor(private readonly old: Uint8Array) {
    const blocks = Math.floor(old.length / HASH_BLOCK);
    let size = 1 << 10;
    while (size < blocks * 2 && size < 1 << 27) size <<= 1;
    this.table = new Int32Array(size);
    this.mask = size - 1;
    let m = 1;
    for (let i = 0; i < HASH_BLOCK - 1; i++) m = Math.imul(m, PRIME);
    this.outMul = m;
    for (let b = 0; b < blocks; b++) {
      const slot = this.slot(this.hashAt(old, b * HASH_BLOCK));
      if (this.table[slot] === 0) this.table[slot] = b * HASH_BLOCK + 1; // first occurrence wins
    }
  }
  private hashAt(buf: Uint8Array, p: number): number {
    let h = 0;
    for (let i = 0; i < HASH_BLOCK; i++) h = (Math.imul(h, PRIME) + buf[p + i]!) | 0;
    return h;
  }
  private slot(h: number): number {
    return (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 5) & this.mask;
  }
  find(nw: Uint8Array, scan: number, end: number): number {
    if (end - scan < HASH_BLOCK) return 0;
    if (scan === this.lastScan + 1 && end === this.lastEnd) {
      this.hash = (Math.imul(this.hash - Math.imul(nw[scan - 1]!, this.outMul), PRIME) + nw[scan + HASH_BLOCK - 1]!) | 0;
    } else {
      this.hash = this.hashAt(nw, scan);
    }
    this.lastScan = scan;
    this.lastEnd = end;
    const hit = this.table[this.slot(this.hash)]!;
    if (hit === 0) return 0;
    const len = matchLen(this.old, hit - 1, nw, scan, end);
    if (len < HASH_BLOCK) return 0;
    this.pos = hit - 1;
    return len;
  }
}
