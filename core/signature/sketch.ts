// A file's content sketch: a sample of the hashes of its 8-byte windows, chosen by the hash's own
// low bits, so that two versions of a file sample the same windows wherever their bytes agree. The
// share of a new version's sampled windows its old version lacks estimates the share of its bytes a
// delta cannot copy (an edit touches every window that overlaps it), from signatures alone.
//
// The sampling rate is a power of two fixed by the file's size (about SAMPLES windows kept), and a
// sample at rate 2^k holds every sample at rate 2^(k+1): two sketches are compared at the coarser
// rate of the two, so versions of different sizes still compare.

/** Bytes in a window. Eight keeps windows of unrelated data distinct even in gigabyte files. */
const WINDOW = 8;
/** Windows a sketch aims to keep: enough that a 2% change in a 1 GiB file is measured within ~10%. */
const SAMPLES = 4096;
/** Rates above 1 in 2^10 cost more sketch than they tell, on the small files where they would apply. */
const MIN_RATE_BITS = 10;
const MAX_RATE_BITS = 30;
const PRIME = 0x01000193;

export interface ContentSketch {
  /** log2 of the sampling rate: about one window in 2^rateBits is kept */
  rateBits: number;
  /** the kept window hashes, distinct and in ascending order */
  samples: Uint32Array;
}

export function sketchRateBits(size: number): number {
  let bits = MIN_RATE_BITS;
  while (bits < MAX_RATE_BITS && size / 2 ** bits > SAMPLES) bits++;
  return bits;
}

/** Sketches a file fed in pieces of any size; `size` (the file's size) fixes the rate. */
export class ContentSketcher {
  private readonly mask: number;
  private readonly rateBits: number;
  /** PRIME^(WINDOW-1): what the byte leaving the window contributed */
  private readonly outgoing: number;
  private readonly recent = new Uint8Array(WINDOW);
  private seen = 0;
  private hash = 0;
  private readonly kept = new Set<number>();

  constructor(size: number) {
    this.rateBits = sketchRateBits(size);
    this.mask = 2 ** this.rateBits - 1;
    let p = 1;
    for (let i = 0; i < WINDOW - 1; i++) p = Math.imul(p, PRIME);
    this.outgoing = p;
  }

  update(bytes: Uint8Array): void {
    const { recent, outgoing, mask, kept } = this;
    let { hash, seen } = this;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const slot = seen % WINDOW;
      if (seen >= WINDOW) hash = (hash - Math.imul(recent[slot]! + 1, outgoing)) | 0;
      recent[slot] = b;
      hash = (Math.imul(hash, PRIME) + b + 1) | 0;
      seen++;
      if (seen >= WINDOW) {
        // Finalise the rolling polynomial (it mixes the low bits poorly) before sampling on them.
        let f = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
        f = (f ^ (f >>> 12)) >>> 0;
        if ((f & mask) === 0) kept.add(f);
      }
    }
    this.hash = hash;
    this.seen = seen;
  }

  finish(): ContentSketch {
    return { rateBits: this.rateBits, samples: Uint32Array.from(this.kept).sort() };
  }
}

/**
 * The share (0–1) of `target`'s content that `base` lacks, judged by their samples at the coarser
 * rate of the two; null when the target has no window sampled at that rate (too small to judge).
 */
export function missingShare(base: ContentSketch, target: ContentSketch): number | null {
  const bits = Math.max(base.rateBits, target.rateBits);
  const mask = 2 ** bits - 1;
  const have = new Set<number>();
  for (const h of base.samples) if ((h & mask) === 0) have.add(h);
  let total = 0;
  let missing = 0;
  for (const h of target.samples) {
    if ((h & mask) !== 0) continue;
    total++;
    if (!have.has(h)) missing++;
  }
  return total === 0 ? null : missing / total;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The samples as base64 of their big-endian bytes (a signature is JSON). */
export function encodeSamples(samples: Uint32Array): string {
  const bytes = new Uint8Array(samples.length * 4);
  samples.forEach((h, i) => {
    bytes[i * 4] = h >>> 24;
    bytes[i * 4 + 1] = (h >>> 16) & 0xff;
    bytes[i * 4 + 2] = (h >>> 8) & 0xff;
    bytes[i * 4 + 3] = h & 0xff;
  });
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const left = bytes.length - i;
    out += B64[n >>> 18]! + B64[(n >>> 12) & 63]! + (left > 1 ? B64[(n >>> 6) & 63]! : '=') + (left > 2 ? B64[n & 63]! : '=');
  }
  return out;
}

/** The inverse of encodeSamples; throws on text that is not base64 of whole, ascending samples. */
export function decodeSamples(text: string): Uint32Array {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error('sketch is not base64');
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = new Uint8Array((text.length / 4) * 3 - pad);
  for (let i = 0, o = 0; i < text.length; i += 4) {
    const n = (B64.indexOf(text[i]!) << 18) | (B64.indexOf(text[i + 1]!) << 12) | (Math.max(0, B64.indexOf(text[i + 2]!)) << 6) | Math.max(0, B64.indexOf(text[i + 3]!));
    for (const shift of [16, 8, 0]) if (o < bytes.length) bytes[o++] = (n >>> shift) & 0xff;
  }
  if (bytes.length % 4 !== 0) throw new Error('sketch is not a whole number of samples');
  const samples = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < samples.length; i++) {
    samples[i] = ((bytes[i * 4]! << 24) | (bytes[i * 4 + 1]! << 16) | (bytes[i * 4 + 2]! << 8) | bytes[i * 4 + 3]!) >>> 0;
    if (i > 0 && samples[i]! <= samples[i - 1]!) throw new Error('sketch samples are not distinct and ascending');
  }
  return samples;
}
