// The one tar header parser. Behind it: the delta engine's exact layout (where each entry's header
// records, content and padding sit, so a layer is re-emitted byte for byte from pieces), the
// docker-save archive index (io/image/tar-index.ts) and the layer safety scan (io/bundle/layer-scan.ts).
// It reads from random access (headers only, content skipped by offset) or from a stream (content
// handed out in chunks, never held whole).
//
// Semantics, chosen once for all three:
// - pax 'x' and GNU 'L'/'K' records describe the next entry and are kept with it (its `start`).
// - A pax global header ('g') is POSIX's: its records apply to every entry after it until another
//   global header changes them (a record with an empty value removes one), and a per-entry 'x'
//   record overrides them for that entry (an empty value removes it for that entry). Precedence
//   of a name, as GNU tar reads it: pax (per-entry over global), then the GNU long name, then the
//   ustar prefix/name. The global header itself is not a file: it is a record of its own in the
//   layout (type 'g', `global` set) so that base entry numbers, which patches refer to, count it
//   as they always have; every user skips it as a file. Docker ignores global headers, GNU tar
//   applies them, so the safety scan refuses a layer whose global header sets a name or a size.
// - Links, directories, devices and FIFOs carry no content whatever their size field says, and a
//   pre-POSIX regular file whose name ends in '/' is a directory (as Go's archive/tar, which
//   unpacks layers in Docker, reads them): a size field cannot hide headers as "content".
// - Sizes are octal or GNU base-256; pax records are counted in bytes (UTF-8 names included).
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
  /** Type flag character: '0' regular, '1' hard link, '2' symlink, '5' directory, 'g' global header, ... */
  type: string;
  /** Full path as found (pax path, GNU long name, or ustar prefix/name); core/tar/path.ts normalises it. */
  path: string;
  /** Link target (pax linkpath, GNU long link name, or the ustar linkname). */
  linkpath: string;
  /** For a pax global header: the records it carries (its content is these records). */
  global?: ReadonlyMap<string, string>;
}

export interface TarLayout {
  entries: TarEntry[];
  /** Offset where the trailer (end-of-archive blocks and anything after) starts. */
  trailerOffset: number;
  size: number;
}

/** The archive is not a well-formed tar at this point (truncated, bad checksum, malformed record). */
export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

/** Where the reader gets its bytes, in order. */
export interface TarInput {
  /** Up to `n` bytes (at least one unless the input has ended). */
  read(n: number): Promise<Uint8Array>;
  /** Moves `n` bytes on (a seek where the input allows it); returns how many there were. */
  skip(n: number): Promise<number>;
  /** Total length, when known up front (a truncated entry is then refused before it is handed out). */
  readonly size?: number;
}

const EMPTY: Uint8Array = new Uint8Array(0);
const decoder = new TextDecoder('utf-8');
/** Meta records are bounded: a pax or long-name record larger than this is not believed. */
const MAX_META = 1 << 20;
const META = new Set(['x', 'g', 'L', 'K']);
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

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

/** A header block's checksum: the unsigned byte sum, the checksum field counted as spaces. */
export function headerChecksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum;
}

const checksumOk = (h: Uint8Array) => headerChecksum(h) === numeric(h.subarray(148, 156));

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Zero bytes that pad an entry of `size` bytes to whole blocks. */
export function padLength(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The ustar name: prefix/name when the header has the POSIX magic (GNU's magic reuses the prefix field). */
function ustarName(h: Uint8Array): string {
  const name = cString(h.subarray(0, 100));
  const prefix = cString(h.subarray(257, 263)) === 'ustar' ? cString(h.subarray(345, 500)) : '';
  return prefix ? `${prefix}/${name}` : name;
}

/** pax extended header records "LEN key=value\n" (LEN in bytes, itself included) → map. */
function paxRecords(b: Uint8Array, at: number): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < b.length && b[i] !== 0; ) {
    const sp = b.indexOf(0x20, i);
    const digits = sp < 0 ? '' : decoder.decode(b.subarray(i, sp));
    const len = /^\d{1,7}$/.test(digits) ? Number(digits) : NaN;
    const eq = sp < 0 ? -1 : b.indexOf(0x3d, sp + 1);
    if (!(len > sp - i + 1) || i + len > b.length || b[i + len - 1] !== 0x0a || eq < 0 || eq <= sp + 1 || eq >= i + len) {
      throw new TarFormatError(`malformed pax record in the extended header at byte ${at}`);
    }
    out.set(decoder.decode(b.subarray(sp + 1, eq)), decoder.decode(b.subarray(eq + 1, i + len - 1)));
    i += len;
  }
  return out;
}

/** Random access to a ByteSource; content skipped by offset. */
export function sourceInput(source: ByteSource, readAhead = 1 << 20): TarInput {
  const cursor = new SourceCursor(source, readAhead);
  let pos = 0;
  return {
    size: source.size,
    async read(n) {
      const k = Math.min(n, source.size - pos);
      if (k <= 0) return EMPTY;
      const b = await cursor.read(pos, k);
      pos += k;
      return b;
    },
    async skip(n) {
      const k = Math.max(0, Math.min(n, source.size - pos));
      pos += k;
      return k;
    },
  };
}

/** A stream of chunks (a layer tar as it is decompressed or read); chunks are not copied. */
export function streamInput(chunks: AsyncIterable<Uint8Array>): TarInput {
  const it = chunks[Symbol.asyncIterator]();
  let chunk = EMPTY;
  let pos = 0;
  let done = false;
  const fill = async () => {
    while (pos >= chunk.length && !done) {
      const r = await it.next();
      if (r.done) done = true;
      else [chunk, pos] = [r.value, 0];
    }
    return pos < chunk.length;
  };
  return {
    async read(n) {
      if (!(await fill())) return EMPTY;
      const out = chunk.subarray(pos, pos + n);
      pos += out.length;
      return out;
    },
    async skip(n) {
      let left = n;
      while (left > 0 && (await fill())) {
        const k = Math.min(left, chunk.length - pos);
        pos += k;
        left -= k;
      }
      return n - left;
    },
  };
}

/** Reads entries in order; `content` hands out the current entry's bytes, `next` skips what is left. */
export class TarReader {
  private pos = 0;
  private contentLeft = 0;
  private padLeft = 0;
  private readonly globals = new Map<string, string>();
  private pax: Map<string, string> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  /** Why `next` returned undefined: the end-of-archive block, or the input ending at a header boundary. */
  ended: 'marker' | 'eof' | undefined;

  constructor(private readonly input: TarInput) {}

  /** Bytes read so far (after `finish`, the whole input). */
  get offset(): number {
    return this.pos;
  }

  private async exact(n: number): Promise<Uint8Array> {
    const first = await this.input.read(n);
    this.pos += first.length;
    if (first.length === n || first.length === 0) return first;
    const out = new Uint8Array(n);
    out.set(first);
    let got = first.length;
    for (let b = first; got < n && b.length > 0; got += b.length) {
      b = await this.input.read(n - got);
      out.set(b, got);
      this.pos += b.length;
    }
    return out.subarray(0, got);
  }

  private async skip(n: number, what: () => string): Promise<void> {
    const k = await this.input.skip(n);
    this.pos += k;
    if (k < n) throw new TarFormatError(`archive is truncated (${what()} needs ${n - k} bytes past the end)`);
  }

  /** The next entry, or undefined at the end of the archive (see `ended`); throws TarFormatError on malformed input. */
  async next(): Promise<TarEntry | undefined> {
    if (this.ended) return undefined;
    const rest = this.contentLeft + this.padLeft;
    this.contentLeft = this.padLeft = 0;
    await this.skip(rest, () => `the entry ending at byte ${this.pos + rest}`);
    const start = this.pos;
    for (;;) {
      const at = this.pos;
      const h = await this.exact(BLOCK);
      const pending = this.pax !== undefined || this.longName !== undefined || this.longLink !== undefined;
      if (h.length === 0 || (h.length === BLOCK && isZero(h))) {
        if (pending) throw new TarFormatError(`the extended header at byte ${start} describes no entry (the archive ends at byte ${at})`);
        this.ended = h.length === 0 ? 'eof' : 'marker';
        return undefined;
      }
      if (h.length < BLOCK) throw new TarFormatError(`archive is truncated (ends inside a tar header at byte ${this.pos})`);
      if (!checksumOk(h)) throw new TarFormatError(`corrupt tar header at byte ${at} (bad checksum; not a tar archive or damaged)`);
      const flag = h[156] === 0 ? '\0' : String.fromCharCode(h[156]!);
      const fieldSize = numeric(h.subarray(124, 136));
      if (META.has(flag)) {
        if (!(fieldSize >= 0) || fieldSize > MAX_META) throw new TarFormatError(`tar extended header at byte ${at} declares ${fieldSize} bytes, more than the ${MAX_META} believed`);
        const data = await this.exact(fieldSize);
        if (data.length < fieldSize) throw new TarFormatError(`archive is truncated (the extended header at byte ${at} needs ${fieldSize - data.length} bytes past the end)`);
        await this.skip(padLength(fieldSize), () => `the extended header at byte ${at}`);
        if (flag === 'g') return this.global(h, data, start, at);
        if (flag === 'x') this.pax = new Map([...(this.pax ?? []), ...paxRecords(data, at)]);
        else if (flag === 'L') this.longName = cString(data);
        else this.longLink = cString(data);
        continue;
      }
      return this.entry(h, flag, fieldSize, start, at);
    }
  }

  private global(h: Uint8Array, data: Uint8Array, start: number, at: number): TarEntry {
    const records = paxRecords(data, at);
    for (const [k, v] of records) {
      if (v === '') this.globals.delete(k);
      else this.globals.set(k, v);
    }
    return { start, dataOffset: at + BLOCK, size: data.length, end: this.pos, type: 'g', path: ustarName(h), linkpath: '', global: records };
  }

  private entry(h: Uint8Array, flag: string, fieldSize: number, start: number, at: number): TarEntry {
    let attrs: Map<string, string> | undefined = this.globals.size > 0 ? new Map(this.globals) : undefined;
    for (const [k, v] of this.pax ?? []) {
      attrs ??= new Map();
      if (v === '') attrs.delete(k);
      else attrs.set(k, v);
    }
    const path = attrs?.get('path') ?? this.longName ?? ustarName(h);
    const linkpath = attrs?.get('linkpath') ?? this.longLink ?? cString(h.subarray(157, 257));
    this.pax = this.longName = this.longLink = undefined;
    const type = flag !== '\0' ? flag : path.endsWith('/') ? '5' : '0';
    const paxSize = attrs?.get('size');
    let size = paxSize === undefined ? fieldSize : /^\d+$/.test(paxSize) ? Number(paxSize) : NaN;
    if (HEADER_ONLY.has(type)) size = 0;
    if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`tar header at byte ${at} has a malformed size`);
    const dataOffset = this.pos;
    const end = dataOffset + size + padLength(size);
    if (this.input.size !== undefined && end > this.input.size) throw new TarFormatError(`archive is truncated (entry at byte ${at} needs ${end - this.input.size} bytes past the end)`);
    this.contentLeft = size;
    this.padLeft = end - dataOffset - size;
    return { start, dataOffset, size, end, type, path, linkpath };
  }

  /** Up to `max` more bytes of the current entry's content; empty once it is all read. */
  async content(max = 1 << 20): Promise<Uint8Array> {
    if (this.contentLeft === 0) return EMPTY;
    const b = await this.input.read(Math.min(max, this.contentLeft));
    if (b.length === 0) throw new TarFormatError(`archive is truncated (ends inside an entry's content at byte ${this.pos})`);
    this.pos += b.length;
    this.contentLeft -= b.length;
    return b;
  }

  /**
   * Reads to the end of the input after `next` found the end: only zeros may follow the
   * end-of-archive block, since unpackers disagree on what comes after it (Go's reader stops,
   * a lone zero block is an error to some, entries after it are read by others).
   */
  async finish(): Promise<void> {
    for (let b = await this.input.read(1 << 20); b.length > 0; b = await this.input.read(1 << 20)) {
      if (!isZero(b)) throw new TarFormatError(`data after the end-of-archive block at byte ${this.pos + b.findIndex((x) => x !== 0)}`);
      this.pos += b.length;
    }
  }
}

/** The exact layout for the re-emitter: whatever follows the last valid entry (end blocks, garbage, an unreadable header) is the trailer. */
export async function readTarLayout(source: ByteSource): Promise<TarLayout> {
  const reader = new TarReader(sourceInput(source));
  const entries: TarEntry[] = [];
  try {
    for (let e = await reader.next(); e; e = await reader.next()) entries.push(e);
  } catch (err) {
    if (!(err instanceof TarFormatError)) throw err;
  }
  return { entries, trailerOffset: entries.at(-1)?.end ?? 0, size: source.size };
}
