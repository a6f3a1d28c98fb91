// A context-mixing byte coder (model.ts) over a binary arithmetic coder, for patch sections of
// text-like new content. Coded form: u8 table bits | u32 BE checksum of the raw bytes | the
// arithmetic code, whose decoder consumes it exactly. The raw length is not stored: the caller
// knows it (the section's rawLength), so decoding stops after exactly that many bytes whatever the
// input, and a corrupt code fails the length or checksum test instead of running on.
import { MAX_TABLE_BITS, MIN_TABLE_BITS, Predictor } from './model.js';

export class CorruptCodeError extends Error {
  override name = 'CorruptCodeError';
}

const PREFIX = 5;

/** Table size for n raw bytes: about one bucket per byte, within [MIN, MAX] (2^bits × 16 B of decoder memory). */
export function tableBitsFor(n: number): number {
  let bits = MIN_TABLE_BITS;
  while (bits < MAX_TABLE_BITS && 1 << bits < n) bits++;
  return bits;
}

/** FNV-1a over the raw bytes: catches a code that decodes to the right length but wrong bytes. */
function checksum(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

export function cmEncode(data: Uint8Array, tableBits = tableBitsFor(data.length)): Uint8Array {
  let out = new Uint8Array(Math.max(64, (data.length >> 1) + PREFIX + 8));
  let n = PREFIX;
  const put = (byte: number) => {
    if (n === out.length) {
      const grown = new Uint8Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[n++] = byte;
  };
  out[0] = tableBits;
  new DataView(out.buffer).setUint32(1, checksum(data));
  const model = new Predictor(tableBits, data.length);
  let x1 = 0;
  let x2 = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    for (let k = 7; k >= 0; k--) {
      const bit = (c >> k) & 1;
      const p = model.p();
      const range = x2 - x1;
      const mid = x1 + Math.floor(range / 4096) * p + Math.floor(((range % 4096) * p) / 4096);
      if (bit) x2 = mid;
      else x1 = mid + 1;
      model.update(bit);
      while (((x1 ^ x2) & 0xff000000) === 0) {
        put(x2 >>> 24);
        x1 = (x1 << 8) >>> 0;
        x2 = ((x2 << 8) | 255) >>> 0;
      }
    }
  }
  for (let k = 0; k < 4; k++) {
    put(x1 >>> 24);
    x1 = (x1 << 8) >>> 0;
  }
  return out.slice(0, n);
}

/**
 * Decodes exactly `rawLength` bytes, a chunk at a time (so a caller can yield between chunks);
 * throws CorruptCodeError unless the code is consumed exactly and the checksum holds. Memory: the
 * shared table (16 × 2^bits ≤ 16 MiB), the match history (≤ 4 MiB + 4 MiB index), 4.3 MB of
 * probability maps and the code itself.
 */
export class CmDecoder {
  private readonly model: Predictor;
  private readonly want: number;
  private at = PREFIX;
  private over = 0;
  private x1 = 0;
  private x2 = 0xffffffff;
  private x = 0;
  private done = 0;
  private hash = 0x811c9dc5;

  constructor(
    private readonly code: Uint8Array,
    readonly rawLength: number,
  ) {
    if (code.length < PREFIX + 4) throw new CorruptCodeError(`context-mixing code is ${code.length} bytes, shorter than its framing`);
    const tableBits = code[0]!;
    if (tableBits < MIN_TABLE_BITS || tableBits > MAX_TABLE_BITS) throw new CorruptCodeError(`context-mixing code asks for a 2^${tableBits}-bucket table (allowed 2^${MIN_TABLE_BITS}..2^${MAX_TABLE_BITS})`);
    this.want = new DataView(code.buffer, code.byteOffset, code.byteLength).getUint32(1);
    this.model = new Predictor(tableBits, rawLength);
    for (let k = 0; k < 4; k++) this.x = ((this.x << 8) | this.next()) >>> 0;
  }

  get remaining(): number {
    return this.rawLength - this.done;
  }

  private next(): number {
    if (this.at < this.code.length) return this.code[this.at++]!;
    this.over++;
    return 0;
  }

  /** The next min(max, remaining) bytes; after the last, the code's end and checksum are checked. */
  read(max: number): Uint8Array {
    const out = new Uint8Array(Math.min(max, this.remaining));
    const model = this.model;
    let { x1, x2, x, hash } = this;
    for (let i = 0; i < out.length; i++) {
      let c = 0;
      for (let k = 0; k < 8; k++) {
        const p = model.p();
        const range = x2 - x1;
        const mid = x1 + Math.floor(range / 4096) * p + Math.floor(((range % 4096) * p) / 4096);
        const bit = x <= mid ? 1 : 0;
        if (bit) x2 = mid;
        else x1 = mid + 1;
        model.update(bit);
        c = (c << 1) | bit;
        while (((x1 ^ x2) & 0xff000000) === 0) {
          x1 = (x1 << 8) >>> 0;
          x2 = ((x2 << 8) | 255) >>> 0;
          x = ((x << 8) | this.next()) >>> 0;
        }
      }
      out[i] = c;
      hash = Math.imul(hash ^ c, 0x01000193);
      if (this.over > 0) throw new CorruptCodeError(`context-mixing code ends early: ${this.done + i + 1} of ${this.rawLength} bytes decoded`);
    }
    Object.assign(this, { x1, x2, x, hash });
    this.done += out.length;
    if (this.done === this.rawLength) {
      if (this.at !== this.code.length) throw new CorruptCodeError(`context-mixing code has ${this.code.length - this.at} bytes left over after ${this.rawLength} bytes`);
      if (hash >>> 0 !== this.want) throw new CorruptCodeError('context-mixing code decodes to bytes that fail its checksum');
    }
    return out;
  }
}

/** The whole of a code at once (tests, small sections). */
export function cmDecode(code: Uint8Array, rawLength: number): Uint8Array {
  const d = new CmDecoder(code, rawLength);
  const out = d.read(rawLength);
  return out;
}
