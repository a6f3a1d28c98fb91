// An exact tar layout reader: where each entry's header records, content and padding sit, so a
// layer can be re-emitted byte for byte from pieces. pax ('x') and GNU long-name ('L', 'K')
// records are kept with the entry they describe. Whatever follows the last valid header (the
// end-of-archive zero blocks, trailing bytes, or anything unparseable) is the trailer.
import { SourceCursor, type ByteSource } from '../delta/bytes.js';

export const BLOCK = 512;

export interface TarEntry {
  /** Offset of the entry's first header record (its pax/long-name records come first). */
  start: number;
  /** Offset of the content, right after the entry's own header block. */
  dataOffset: number;
  /** Content bytes (padding excluded). */
  size: number;
  /** Offset after the content's padding: where the next entry starts. */
  end: number;
  /** Type flag character: '0' regular, '1' hard link, '2' symlink, '5' directory, ... */
  type: string;
  /** Full path (pax path, GNU long name, or ustar prefix/name). */
  path: string;
}

export interface TarLayout {
  entries: TarEntry[];
  /** Offset where the trailer (end-of-archive blocks and anything after) starts. */
  trailerOffset: number;
  size: number;
}

const decoder = new TextDecoder('utf-8');

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return decoder.decode(nul < 0 ? b : b.subarray(0, nul));
}

/** Octal or GNU base-256 numeric field; NaN when malformed. */
export function numeric(b: Uint8Array): number {
  if (b[0]! & 0x80) {
    let n = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) n = n * 256 + b[i]!;
    return Number.isSafeInteger(n) ? n : NaN;
  }
  const s = cString(b).trim();
  if (s === '') return 0;
  return /^[0-7]+$/.test(s) ? parseInt(s, 8) : NaN;
}

function checksumOk(h: Uint8Array): boolean {
  const want = numeric(h.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === want;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** pax extended header records "LEN key=value\n" → map. */
function paxRecords(b: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const text = decoder.decode(b);
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(' ', i);
    if (sp < 0) break;
    const len = parseInt(text.slice(i, sp), 10);
    if (!(len > 0)) break;
    const rec = text.slice(sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;
/** Meta records are bounded: a pax or long-name record larger than this is not believed. */
const MAX_META = 1 << 20;

export async function readTarLayout(source: ByteSource): Promise<TarLayout> {
  const cur = new SourceCursor(source);
  const entries: TarEntry[] = [];
  let off = 0;
  let start = 0;
  let pax = new Map<string, string>();
  let longName: string | undefined;
  for (;;) {
    if (off + BLOCK > source.size) break;
    const h = await cur.read(off, BLOCK);
    if (isZero(h) || !checksumOk(h)) break;
    const type = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
    let size = numeric(h.subarray(124, 136));
    if (type === 'x' || type === 'L' || type === 'K') {
      if (!(size >= 0) || size > MAX_META || off + BLOCK + padded(size) > source.size) break;
      const data = await cur.read(off + BLOCK, size);
      if (type === 'x') pax = new Map([...pax, ...paxRecords(data)]);
      else if (type === 'L') longName = cString(data);
      off += BLOCK + padded(size);
      continue;
    }
    const paxSize = pax.get('size');
    if (paxSize !== undefined) size = /^\d+$/.test(paxSize) ? Number(paxSize) : NaN;
    // Links, directories and devices carry no content whatever their size field says.
    const hasData = !['1', '2', '3', '4', '5', '6'].includes(type);
    if (!hasData) size = 0;
    if (!Number.isSafeInteger(size) || size < 0 || off + BLOCK + padded(size) > source.size) break;
    let path = pax.get('path') ?? longName;
    if (path === undefined) {
      const name = cString(h.subarray(0, 100));
      const ustar = cString(h.subarray(257, 263)) === 'ustar';
      const prefix = ustar ? cString(h.subarray(345, 500)) : '';
      path = prefix ? `${prefix}/${name}` : name;
    }
    const end = off + BLOCK + padded(size);
    entries.push({ start, dataOffset: off + BLOCK, size, end, type, path });
    off = end;
    start = end;
    pax = new Map();
    longName = undefined;
  }
  return { entries, trailerOffset: start, size: source.size };
}
