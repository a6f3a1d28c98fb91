// The context-mixing predictor: for each next bit, the probability that it is 1, from
//   - order-1, 2, 3, 4, 6 contexts and a word context (the identifier or word being written),
//     each a bit history (tables.ts) in a shared hash table, mapped to a probability that adapts
//     to what that history was followed by (one map per context order);
//   - an order-0 history;
//   - a match model: the byte that followed the last occurrence of the recent bytes, with its
//     match length;
// mixed by a logistic mixer (weights chosen by the bits of the current byte seen so far, trained
// online), then refined by two adaptive probability maps (order 0 and order 1). The encoder and
// decoder run the same predictor, so it must be deterministic: integer arithmetic only.
import { squash, STATES, STRETCH } from './tables.js';

/** Hashed contexts: orders 1, 2, 3, 4, 6 and the word. */
const HASHED = 7;
/** Mixer inputs: the hashed contexts, order 0, the match model, a bias. */
const INPUTS = 2 * HASHED + 3;
/** Inputs from the chain of indirect refinements: each order's history adjusts the prediction of the order below. */
const CHAIN = HASHED + 3;
const CHAIN_RATE = 1;
/** Match history (a ring of up to MAX_RING bytes) and its index of recent positions keyed by the last MIN_MATCH bytes. */
const MAX_RING = 1 << 22;
const MAX_MATCH_BITS = 20;
const MIN_MATCH = 6;
/** Match lengths are verified up to MAX_LEN back; the map tells lengths apart exactly below 16, by powers of two above. */
const MAX_LEN = 31;
const LEN_BUCKETS = 28;
const lenBucket = (len: number) => (len < 16 ? len : 12 + (31 - Math.clz32(len)));
/** Bucket: a check byte, then the 15 bit histories of one nibble (1 + 2 + 4 + 8). */
const BUCKET = 16;
const PROBES = 3;
const SM_LIMIT = 1023;
const MIX_SHIFT = 16;
const MIX_RATE = 6;
const APM_RATE = 7;

/** Bucket count of the shared table is 2^bits; the decoder's memory is 16 × 2^bits bytes for it. */
export const MIN_TABLE_BITS = 10;
export const MAX_TABLE_BITS = 20;

/** floor(65536 / (n + 1.5)): the learning rate of a probability seen n times. */
const RECIPROCAL = (() => {
  const t = new Int32Array(SM_LIMIT + 1);
  for (let n = 0; n <= SM_LIMIT; n++) t[n] = Math.floor(131072 / (2 * n + 3));
  return t;
})();

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Probability maps from a small context (a bit-history state, a match length) to a 22-bit probability. */
class StateMap {
  readonly p: Int32Array;
  readonly n: Uint16Array;
  constructor(size: number, init: (i: number) => number) {
    this.p = new Int32Array(size);
    this.n = new Uint16Array(size);
    for (let i = 0; i < size; i++) this.p[i] = init(i);
  }
}

/** A state's probability before any adaptation: (n1 + ½) / (n0 + n1 + 1). */
function stateInit(i: number): number {
  const s = i & 255;
  const n0 = STATES.n0[s]!;
  const n1 = STATES.n1[s]!;
  return Math.floor(((2 * n1 + 1) * (1 << 22)) / (2 * (n0 + n1) + 2));
}

/** Adaptive probability maps: per context, 33 learned bins over stretch(p) that refine a probability by interpolation. */
function apmTable(contexts: number): Uint16Array {
  const t = new Uint16Array(contexts * 33);
  for (let c = 0; c < contexts; c++) for (let j = 0; j < 33; j++) t[c * 33 + j] = squash((j - 16) * 128) * 16;
  return t;
}

/** squash over its whole domain (−2047..2047), as a table: the mixer and chain call it per input per bit. */
const SQUASH = (() => {
  const t = new Int16Array(4095);
  for (let x = -2047; x <= 2047; x++) t[x + 2047] = squash(x);
  return t;
})();
const LEN_BUCKET = (() => {
  const t = new Uint8Array(65536);
  for (let len = 1; len < 65536; len++) t[len] = lenBucket(len);
  return t;
})();
const STATE_USED = (() => {
  const t = new Uint16Array(256);
  for (let s = 0; s < 256; s++) t[s] = STATES.n0[s]! + STATES.n1[s]!;
  return t;
})();
const NEXT = STATES.next;

/**
 * The hot loops keep everything in typed arrays and locals: per bit, 8 map lookups and updates, two
 * 17-input dot products, the 7-step chain and two APMs, no calls but to inlined table lookups.
 */
export class Predictor {
  private readonly table: Uint8Array;
  /** The same table by 32-bit words, to empty a bucket in four stores. */
  private readonly table32: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  /** Byte offset of each hashed context's current bucket, and its context hash at the byte start. */
  private readonly bucket = new Int32Array(HASHED);
  private readonly hash = new Int32Array(HASHED);
  /** Table offset of each hashed context's bit history for the next bit. */
  private readonly slot = new Int32Array(HASHED);
  /** One map per hashed context and order 0: entry i × 256 + state; `seen` holds the entries the current bit uses. */
  private readonly mapP: Int32Array;
  private readonly mapN: Uint16Array;
  private readonly seen = new Int32Array(HASHED + 1);
  private readonly order0 = new Uint8Array(256);
  private readonly matchP: Int32Array;
  private readonly matchN: Uint16Array;
  private readonly weights: Int32Array;
  private readonly weights2: Int32Array;
  private readonly chainWeights = new Int32Array(HASHED * 256 * 2);
  private readonly chainIndex = new Int32Array(HASHED);
  private readonly chainBelow = new Int32Array(HASHED);
  private readonly inputs = new Int32Array(INPUTS);
  private readonly apm0: Uint16Array;
  private readonly apm1: Uint16Array;
  private apmIndex0 = 0;
  private apmIndex1 = 0;
  private readonly ring: Uint8Array;
  private readonly ringMask: number;
  private readonly recent: Int32Array;
  private readonly matchShift: number;
  /** Bits of the current byte so far, behind a leading 1. */
  private c0 = 1;
  /** The same for the current nibble: the bit history's position in the bucket. */
  private nibble = 1;
  private bits = 0;
  /** The last four bytes (c4) and the four before them (c8). */
  private c4 = 0;
  private c8 = 0;
  private word = 0;
  private prevWord = 0;
  private pos = 0;
  private matchPtr = 0;
  private matchLen = 0;
  private matchBit = 0;
  private matchIndex = 0;
  private mixBase = 0;
  private p1 = 2048;
  private p2 = 2048;
  private mixBase2 = 0;
  /** How many hashed contexts had been seen before, at the start of this byte. */
  private found = 0;

  /** `size`: the bytes to be coded, which bounds the match history. */
  constructor(tableBits: number, size: number) {
    let ring = 1 << 10;
    while (ring < size && ring < MAX_RING) ring *= 2;
    this.ring = new Uint8Array(ring);
    this.ringMask = ring - 1;
    const matchBits = Math.min(MAX_MATCH_BITS, Math.max(MIN_TABLE_BITS, tableBits));
    this.recent = new Int32Array(1 << matchBits);
    this.matchShift = 32 - matchBits;
    this.table = new Uint8Array(BUCKET << tableBits);
    this.table32 = new Int32Array(this.table.buffer);
    this.mask = (1 << tableBits) - 1;
    this.shift = 32 - tableBits;
    const maps = new StateMap((HASHED + 1) * 256, stateInit);
    this.mapP = maps.p;
    this.mapN = maps.n;
    const matchMap = new StateMap(2 * LEN_BUCKETS, (i) => (i & 1 ? 3 << 20 : 1 << 20));
    this.matchP = matchMap.p;
    this.matchN = matchMap.n;
    this.apm0 = apmTable(256);
    this.apm1 = apmTable(1 << 16);
    for (let i = 0; i < HASHED * 256; i++) {
      this.chainWeights[i * 2] = 1 << 15;
      this.chainWeights[i * 2 + 1] = STRETCH[stateInit(i) >> 10]! * 128;
    }
    this.weights = new Int32Array(256 * INPUTS).fill(Math.floor((1 << MIX_SHIFT) / 4));
    this.weights2 = new Int32Array((HASHED + 1) * 32 * INPUTS).fill(Math.floor((1 << MIX_SHIFT) / 4));
    this.startByte();
  }

  /** P(next bit = 1), 12 bits, never 0 or 4096. */
  p(): number {
    const x = this.inputs;
    const maps = this.mapP;
    const seen = this.seen;
    const table = this.table;
    const slot = this.slot;
    for (let i = 0; i < HASHED; i++) {
      const j = i * 256 + table[slot[i]!]!;
      seen[i] = j;
      x[i] = STRETCH[maps[j]! >> 10]!;
    }
    const j0 = HASHED * 256 + this.order0[this.c0]!;
    seen[HASHED] = j0;
    let below = STRETCH[maps[j0]! >> 10]!;
    x[HASHED] = below;
    const len = this.matchLen;
    if (len > 0) {
      const expected = (this.ring[this.matchPtr & this.ringMask]! >> (7 - this.bits)) & 1;
      this.matchBit = expected;
      const mi = LEN_BUCKET[len]! * 2 + expected;
      this.matchIndex = mi;
      x[HASHED + 1] = STRETCH[this.matchP[mi]! >> 10]!;
    } else x[HASHED + 1] = 0;
    x[HASHED + 2] = 256;
    const cw = this.chainWeights;
    const chainIndex = this.chainIndex;
    const chainBelow = this.chainBelow;
    for (let i = 0; i < HASHED; i++) {
      const j = seen[i]! * 2;
      chainIndex[i] = j;
      chainBelow[i] = below;
      let s = Math.trunc((cw[j]! * below + cw[j + 1]! * 256) / 65536);
      if (s > 2047) s = 2047;
      if (s < -2047) s = -2047;
      x[CHAIN + i] = s;
      below = s;
    }
    const w = this.weights;
    const w2 = this.weights2;
    const base = this.c0 * INPUTS;
    this.mixBase = base;
    const base2 = ((this.found * 4 + (len === 0 ? 0 : len < 16 ? 1 : len < 32 ? 2 : 3)) * 8 + this.bits) * INPUTS;
    this.mixBase2 = base2;
    let dot = 0;
    let dot2 = 0;
    for (let i = 0; i < INPUTS; i++) {
      const xi = x[i]!;
      dot += xi * w[base + i]!;
      dot2 += xi * w2[base2 + i]!;
    }
    let s1 = Math.trunc(dot / (1 << MIX_SHIFT));
    if (s1 > 2047) s1 = 2047;
    if (s1 < -2047) s1 = -2047;
    let s2 = Math.trunc(dot2 / (1 << MIX_SHIFT));
    if (s2 > 2047) s2 = 2047;
    if (s2 < -2047) s2 = -2047;
    this.p1 = SQUASH[s1 + 2047]!;
    this.p2 = SQUASH[s2 + 2047]!;
    const pMix = SQUASH[((s1 + s2) >> 1) + 2047]!;
    // The two APMs: interpolate between the bins either side of stretch(pMix), train the nearer.
    const st = STRETCH[pMix]! + 2048;
    const lo = st >> 7;
    const wt = st & 127;
    const near = wt >> 6;
    const t0 = this.apm0;
    const b0 = this.c0 * 33 + lo;
    this.apmIndex0 = b0 + near;
    const a0 = (t0[b0]! * (128 - wt) + t0[b0 + 1]! * wt) >> 11;
    const t1 = this.apm1;
    const b1 = ((this.c0 | ((this.c4 & 0xff) << 8)) & 0xffff) * 33 + lo;
    this.apmIndex1 = b1 + near;
    const a1 = (t1[b1]! * (128 - wt) + t1[b1 + 1]! * wt) >> 11;
    let p = (pMix + a0 + 2 * a1 + 2) >> 2;
    if (p < 1) p = 1;
    if (p > 4095) p = 4095;
    return p;
  }

  update(bit: number): void {
    const t = this.table;
    const seen = this.seen;
    const mapP = this.mapP;
    const mapN = this.mapN;
    const slot = this.slot;
    const target = bit << 22;
    for (let i = 0; i <= HASHED; i++) {
      const k = seen[i]!;
      const n = mapN[k]!;
      const p = mapP[k]!;
      mapP[k] = p + Math.trunc(((target - p) * RECIPROCAL[n]!) / 65536);
      if (n < SM_LIMIT) mapN[k] = n + 1;
    }
    for (let i = 0; i < HASHED; i++) t[slot[i]!] = NEXT[(seen[i]! & 255) * 2 + bit]!;
    this.order0[this.c0] = NEXT[(seen[HASHED]! & 255) * 2 + bit]!;
    if (this.matchLen > 0) {
      const k = this.matchIndex;
      const n = this.matchN[k]!;
      const p = this.matchP[k]!;
      this.matchP[k] = p + Math.trunc(((target - p) * RECIPROCAL[n]!) / 65536);
      if (n < SM_LIMIT) this.matchN[k] = n + 1;
      if (this.matchBit !== bit) this.matchLen = 0;
    }
    const err = ((bit << 12) - this.p1) * MIX_RATE;
    const err2 = ((bit << 12) - this.p2) * MIX_RATE;
    const w = this.weights;
    const w2 = this.weights2;
    const x = this.inputs;
    const base = this.mixBase;
    const base2 = this.mixBase2;
    for (let i = 0; i < INPUTS; i++) {
      const xi = x[i]!;
      w[base + i] = w[base + i]! + ((xi * err) >> 14);
      w2[base2 + i] = w2[base2 + i]! + ((xi * err2) >> 14);
    }
    const cw = this.chainWeights;
    const chainIndex = this.chainIndex;
    const chainBelow = this.chainBelow;
    const bit12 = bit << 12;
    for (let i = 0; i < HASHED; i++) {
      const j = chainIndex[i]!;
      const e = (bit12 - SQUASH[x[CHAIN + i]! + 2047]!) * CHAIN_RATE;
      cw[j] = cw[j]! + ((chainBelow[i]! * e) >> 10);
      cw[j + 1] = cw[j + 1]! + ((256 * e) >> 10);
    }
    const a16 = (bit << 16) - bit;
    const t0 = this.apm0;
    const i0 = this.apmIndex0;
    const v0 = t0[i0]!;
    t0[i0] = v0 + ((a16 - v0) >> APM_RATE);
    const t1 = this.apm1;
    const i1 = this.apmIndex1;
    const v1 = t1[i1]!;
    t1[i1] = v1 + ((a16 - v1) >> APM_RATE);

    this.c0 = (this.c0 << 1) | bit;
    const bits = this.bits + 1;
    this.bits = bits;
    const bucket = this.bucket;
    if (bits === 8) {
      this.endByte(this.c0 & 255);
      return;
    }
    let nibble: number;
    if (bits === 4) {
      nibble = 1;
      const h = this.hash;
      const m = Math.imul(this.c0, 0x2f0b3c5);
      for (let i = 0; i < HASHED; i++) bucket[i] = this.find(mix32(h[i]! + m));
    } else nibble = (this.nibble << 1) | bit;
    this.nibble = nibble;
    for (let i = 0; i < HASHED; i++) slot[i] = bucket[i]! + nibble;
  }

  private endByte(c: number): void {
    this.ring[this.pos & this.ringMask] = c;
    this.pos++;
    this.c8 = (this.c8 << 8) | (this.c4 >>> 24);
    this.c4 = (this.c4 << 8) | c;
    const isWord = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c >= 128;
    if (isWord) this.word = Math.imul(this.word ^ (c | 32), 0x01000193);
    else if (this.word !== 0) {
      this.prevWord = this.word;
      this.word = 0;
    }
    if (this.matchLen > 0) {
      this.matchPtr++;
      if (this.matchLen < 65535) this.matchLen++;
    }
    if (this.pos >= MIN_MATCH) {
      const h = mix32(this.c4 ^ Math.imul(this.c8 & 0xffff, 0x9e3779b1)) >>> this.matchShift;
      if (this.matchLen === 0) {
        const cand = this.recent[h]!;
        if (cand > 0 && this.pos - cand < this.ringMask) {
          let len = 0;
          while (len < MAX_LEN && len < cand && this.ring[(cand - 1 - len) & this.ringMask] === this.ring[(this.pos - 1 - len) & this.ringMask]) len++;
          if (len >= MIN_MATCH) {
            this.matchLen = len;
            this.matchPtr = cand;
          }
        }
      }
      this.recent[h] = this.pos;
    }
    this.startByte();
  }

  private startByte(): void {
    this.c0 = 1;
    this.nibble = 1;
    this.bits = 0;
    const c4 = this.c4;
    const h = this.hash;
    h[0] = (c4 & 0xff) | 0x100;
    h[1] = Math.imul((c4 & 0xffff) | 0x20000, 0x3c6ef372);
    h[2] = Math.imul((c4 & 0xffffff) | 0x3000000, 0x5851f42d);
    h[3] = Math.imul(c4, 0x2545f491) ^ 0x4000000;
    h[4] = Math.imul(c4, 0x27d4eb2f) ^ Math.imul((this.c8 & 0xffff) | 0x60000, 0x165667b1);
    h[5] = Math.imul(this.word, 0x61c88647) ^ Math.imul((c4 & 0xff) | 0x700, 0x1b873593);
    h[6] = Math.imul(this.word ^ 0x50000, 0x7feb352d) ^ Math.imul(this.prevWord, 0x68e31da4);
    this.found = 0;
    for (let i = 0; i < HASHED; i++) {
      this.bucket[i] = this.find(mix32(h[i]!));
      this.slot[i] = this.bucket[i]! + 1;
      if (this.table[this.slot[i]!] !== 0) this.found++;
    }
  }

  /** The bucket for a context hash: the one among PROBES neighbours carrying its check byte, else the least used of them, emptied. */
  private find(h: number): number {
    const t = this.table;
    const check = h & 255;
    const home = h >>> this.shift;
    const mask = this.mask;
    let victim = -1;
    let least = 1 << 30;
    for (let k = 0; k < PROBES; k++) {
      const b = ((home + k) & mask) * BUCKET;
      if (t[b] === check) return b;
      const used = STATE_USED[t[b + 1]!]!;
      if (used < least) {
        least = used;
        victim = b;
      }
    }
    const w = victim >> 2;
    const t32 = this.table32;
    t32[w] = 0;
    t32[w + 1] = 0;
    t32[w + 2] = 0;
    t32[w + 3] = 0;
    t[victim] = check;
    return victim;
  }
}
