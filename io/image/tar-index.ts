// Random access to the entries of a tar file: one pass over the headers (data is skipped by
// seeking, so a multi-GB archive costs a few reads), then any entry can be streamed by offset.
// Every name is checked on the way in; truncation is detected from the header sizes.
import { createReadStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { resolveSymlink, safeEntryName } from '../../core/image/archive-path.js';

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  /** offset of the data in the file */
  offset: number;
  size: number;
  linkname: string;
}

const BLOCK = 512;

function str(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

function num(buf: Buffer, start: number, len: number): number {
  if (buf[start]! & 0x80) {
    // GNU base-256 for sizes ≥ 8 GiB
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + buf[i]!;
    return n;
  }
  const s = str(buf, start, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === num(h, 148, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.toString('utf8', i, sp), 10);
    if (!(len > 0)) break;
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

export class TarIndex {
  private constructor(
    readonly path: string,
    readonly label: string,
    private readonly entries: Map<string, TarEntry>,
  ) {}

  static async open(path: string, label = path): Promise<TarIndex> {
    const fh = await fs.open(path, 'r');
    try {
      const { size: fileSize } = await fh.stat();
      const entries = new Map<string, TarEntry>();
      const header = Buffer.alloc(BLOCK);
      let offset = 0;
      let pax: Record<string, string> = {};
      let longName: string | undefined;
      let longLink: string | undefined;
      const readData = async (at: number, len: number) => {
        if (len > 1 << 20) throw new Error(`${label}: tar metadata entry of ${len} bytes is too large`);
        const b = Buffer.alloc(len);
        await fh.read(b, 0, len, at);
        return b;
      };
      for (;;) {
        if (offset + BLOCK > fileSize) throw new Error(`${label}: archive is truncated (ends inside a tar header at byte ${fileSize})`);
        await fh.read(header, 0, BLOCK, offset);
        if (header.every((b) => b === 0)) break;
        if (!checksumOk(header)) throw new Error(`${label}: corrupt tar header at byte ${offset} (bad checksum; not a tar archive or damaged)`);
        const size = pax.size !== undefined ? Number(pax.size) : num(header, 124, 12);
        const dataStart = offset + BLOCK;
        const next = dataStart + Math.ceil(size / BLOCK) * BLOCK;
        if (dataStart + size > fileSize) throw new Error(`${label}: archive is truncated (entry at byte ${offset} needs ${dataStart + size - fileSize} bytes past the end)`);
        const flag = String.fromCharCode(header[156]!);
        if (flag === 'x') pax = parsePax(await readData(dataStart, size));
        else if (flag === 'L') longName = str(await readData(dataStart, size), 0, size);
        else if (flag === 'K') longLink = str(await readData(dataStart, size), 0, size);
        // 'g' (a pax global header) carries nothing Docker archives use
        else if (flag !== 'g') {
          const prefix = header.toString('latin1', 257, 262) === 'ustar' ? str(header, 345, 155) : '';
          const raw = pax.path ?? longName ?? (prefix ? `${prefix}/${str(header, 0, 100)}` : str(header, 0, 100));
          const linkname = pax.linkpath ?? longLink ?? str(header, 157, 100);
          const name = safeEntryName(raw, label);
          const type = flag === '0' || flag === '\0' || flag === '7' ? 'file' : flag === '5' ? 'dir' : flag === '2' ? 'symlink' : flag === '1' ? 'hardlink' : 'other';
          if (type === 'symlink') resolveSymlink(name, linkname, label);
          if (type === 'hardlink') safeEntryName(linkname, label);
          if (name) entries.set(name, { name, type, offset: dataStart, size: type === 'file' ? size : 0, linkname });
          pax = {};
          longName = longLink = undefined;
        }
        offset = next;
      }
      return new TarIndex(path, label, entries);
    } finally {
      await fh.close();
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The regular file `name` refers to, following links inside the archive. */
  file(name: string, what = name): TarEntry {
    let cur = safeEntryName(name, this.label);
    for (let hops = 0; hops < 16; hops++) {
      const e = this.entries.get(cur);
      if (!e) throw new Error(`${this.label}: ${what} is missing from the archive (${JSON.stringify(cur)} is referenced but not present)`);
      if (e.type === 'file') return e;
      if (e.type === 'symlink') cur = resolveSymlink(cur, e.linkname, this.label);
      else if (e.type === 'hardlink') cur = safeEntryName(e.linkname, this.label);
      else throw new Error(`${this.label}: ${what} (${JSON.stringify(cur)}) is not a regular file`);
    }
    throw new Error(`${this.label}: ${what} is behind too many links`);
  }

  stream(e: TarEntry): Readable {
    if (e.size === 0) return Readable.from([]);
    return createReadStream(this.path, { start: e.offset, end: e.offset + e.size - 1, highWaterMark: 1 << 20 });
  }

  /** The first `n` bytes of an entry (to recognise its compression). */
  async head(e: TarEntry, n: number): Promise<Buffer> {
    const fh = await fs.open(this.path, 'r');
    try {
      const b = Buffer.alloc(Math.min(n, e.size));
      await fh.read(b, 0, b.length, e.offset);
      return b;
    } finally {
      await fh.close();
    }
  }

  async read(e: TarEntry, limit: number, what: string): Promise<Buffer> {
    if (e.size > limit) throw new Error(`${this.label}: ${what} is ${e.size} bytes, more than the ${limit} allowed`);
    const fh = await fs.open(this.path, 'r');
    try {
      const b = Buffer.alloc(e.size);
      await fh.read(b, 0, e.size, e.offset);
      return b;
    } finally {
      await fh.close();
    }
  }
}
