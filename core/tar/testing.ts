// Hand-made tar records for tests: what real tools do not write (hostile layers, odd fields,
// global headers that rename), byte by byte.
import { ByteWriter } from '../delta/bytes.js';
import { BLOCK } from './reader.js';

const encoder = new TextEncoder();

export interface RawHeader {
  name: string;
  /** Type flag character; '0' by default. */
  type?: string;
  /** Size field value (octal); ignored when `sizeField` is given. */
  size?: number;
  /** The 12-byte size field as written (e.g. GNU base-256). */
  sizeField?: Uint8Array;
  linkname?: string;
}

/** A ustar header block with a correct checksum. */
export function header(h: RawHeader): Uint8Array {
  const b = new Uint8Array(BLOCK);
  const put = (s: string, at: number) => b.set(encoder.encode(s), at);
  put(h.name, 0);
  put('0000644\0', 100);
  put('0000000\0', 108);
  put('0000000\0', 116);
  b.set(h.sizeField ?? encoder.encode(`${(h.size ?? 0).toString(8).padStart(11, '0')}\0`), 124);
  put('14542354000\0', 136);
  put(h.type ?? '0', 156);
  put(h.linkname ?? '', 157);
  put('ustar\x0000', 257);
  b.fill(0x20, 148, 156);
  const sum = b.reduce((n, x) => n + x, 0);
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return b;
}

/** Content padded to whole blocks. */
export function padded(content: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(content.length / BLOCK) * BLOCK);
  out.set(content);
  return out;
}

/** pax records "LEN key=value\n", LEN counting its own digits. */
export function paxData(records: Array<[string, string]>): Uint8Array {
  const text = records.map(([k, v]) => {
    const body = encoder.encode(` ${k}=${v}\n`).length;
    let len = body + 1;
    while (String(len).length + body !== len) len = String(len).length + body;
    return `${len} ${k}=${v}\n`;
  });
  return encoder.encode(text.join(''));
}

/** A header with its content (its size field set from the content unless given). */
export function member(h: RawHeader, content: Uint8Array | string = ''): Uint8Array {
  const bytes = typeof content === 'string' ? encoder.encode(content) : content;
  return concat(header({ size: bytes.length, ...h }), padded(bytes));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const w = new ByteWriter();
  for (const p of parts) w.bytes(p);
  return w.take();
}

/** Records followed by the two end-of-archive blocks. */
export function archive(...records: Uint8Array[]): Uint8Array {
  return concat(...records, new Uint8Array(2 * BLOCK));
}
