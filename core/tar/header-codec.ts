// Encodes a tar entry's header records against a reference header of the same length (the
// matched base entry's, or the previous entry's in the same layer): the XOR of the two is mostly
// zeros, and the fields that differ between builds are predicted instead of XORed: the mtime as
// a numeric delta, the size from the content length, the checksum recomputed. A prediction is
// only used when it reproduces the target's exact bytes (same digits, padding, terminators).
import { BLOCK, headerChecksum, numeric } from './reader.js';

export const HF = { MTIME: 1, SIZE: 2, CHKSUM: 4 } as const;

const MTIME = 136;
const SIZE = 124;
const CHKSUM = 148;

/** `field` with its octal digit run rewritten to `value`, same width; undefined when it cannot be. */
function reformat(field: Uint8Array, value: number): Uint8Array | undefined {
  if (field[0]! & 0x80 || !Number.isSafeInteger(value) || value < 0) return undefined;
  let i = 0;
  while (i < field.length && field[i] === 0x20) i++;
  let j = i;
  while (j < field.length && field[j]! >= 0x30 && field[j]! <= 0x37) j++;
  const digits = value.toString(8);
  if (j === i || digits.length > j - i) return undefined;
  const out = new Uint8Array(field); // a copy (Buffer.slice would be a view)
  out.set(new TextEncoder().encode(digits.padStart(j - i, '0')), i);
  return out;
}

const same = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);

/** The reference with mtime and size predicted per `flags`; undefined when a prediction fails. */
function predict(ref: Uint8Array, flags: number, mtimeDelta: number, contentSize: number): Uint8Array | undefined {
  const out = new Uint8Array(ref);
  const b = out.length - BLOCK;
  if (flags & HF.MTIME) {
    const f = reformat(ref.subarray(b + MTIME, b + MTIME + 12), numeric(ref.subarray(b + MTIME, b + MTIME + 12)) + mtimeDelta);
    if (!f) return undefined;
    out.set(f, b + MTIME);
  }
  if (flags & HF.SIZE) {
    const f = reformat(ref.subarray(b + SIZE, b + SIZE + 12), contentSize);
    if (!f) return undefined;
    out.set(f, b + SIZE);
  }
  return out;
}

export interface EncodedHeader {
  flags: number;
  mtimeDelta: number;
  xor: Uint8Array;
}

export function encodeHeader(target: Uint8Array, ref: Uint8Array, contentSize: number): EncodedHeader {
  if (target.length !== ref.length || target.length < BLOCK) throw new RangeError('header and reference differ in length');
  const b = target.length - BLOCK;
  let flags = 0;
  const tm = numeric(target.subarray(b + MTIME, b + MTIME + 12));
  const rm = numeric(ref.subarray(b + MTIME, b + MTIME + 12));
  const mtimeDelta = Number.isNaN(tm) || Number.isNaN(rm) ? 0 : tm - rm;
  if (!Number.isNaN(tm) && !Number.isNaN(rm) && same(predict(ref, HF.MTIME, mtimeDelta, 0)?.subarray(b + MTIME, b + MTIME + 12), target.subarray(b + MTIME, b + MTIME + 12))) flags |= HF.MTIME;
  if (same(predict(ref, HF.SIZE, 0, contentSize)?.subarray(b + SIZE, b + SIZE + 12), target.subarray(b + SIZE, b + SIZE + 12))) flags |= HF.SIZE;
  const chk = reformat(ref.subarray(b + CHKSUM, b + CHKSUM + 8), headerChecksum(target.subarray(b)));
  if (same(chk, target.subarray(b + CHKSUM, b + CHKSUM + 8))) flags |= HF.CHKSUM;
  const pred = predict(ref, flags, mtimeDelta, contentSize)!;
  const xor = new Uint8Array(target.length);
  for (let i = 0; i < xor.length; i++) xor[i] = target[i]! ^ pred[i]!;
  if (flags & HF.CHKSUM) xor.fill(0, b + CHKSUM, b + CHKSUM + 8);
  return { flags, mtimeDelta: flags & HF.MTIME ? mtimeDelta : 0, xor };
}

/** Inverse of encodeHeader; undefined when the flags cannot apply to this reference (corrupt input). */
export function decodeHeader(ref: Uint8Array, e: EncodedHeader, contentSize: number): Uint8Array | undefined {
  if (ref.length !== e.xor.length || ref.length < BLOCK) return undefined;
  const out = predict(ref, e.flags, e.mtimeDelta, contentSize);
  if (!out) return undefined;
  for (let i = 0; i < out.length; i++) out[i]! ^= e.xor[i]!;
  if (e.flags & HF.CHKSUM) {
    const b = out.length - BLOCK;
    const f = reformat(ref.subarray(b + CHKSUM, b + CHKSUM + 8), headerChecksum(out.subarray(b)));
    if (!f) return undefined;
    out.set(f, b + CHKSUM);
  }
  return out;
}
