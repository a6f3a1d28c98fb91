// Random access to the entries of a tar file: one pass over the headers (data is skipped by
// seeking, so a multi-GB archive costs a few reads), then any entry can be streamed by offset.
// Every name is checked on the way in; truncation is detected from the header sizes. Headers are
// read by core/tar/reader.ts, names judged by core/tar/path.ts (through core/image/archive-path.ts).
import { createReadStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { resolveSymlink, safeEntryName } from '../../core/image/archive-path.js';
import { sourceInput, TarFormatError, TarReader } from '../../core/tar/reader.js';
import { FileSource } from '../delta/file-source.js';

export interface TarEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  /** offset of the data in the file */
  offset: number;
  size: number;
  linkname: string;
}

export class TarIndex {
  private constructor(
    readonly path: string,
    readonly label: string,
    private readonly entries: Map<string, TarEntry>,
  ) {}

  static async open(path: string, label = path): Promise<TarIndex> {
    const file = await FileSource.open(path);
    try {
      const entries = new Map<string, TarEntry>();
      // A small read-ahead: headers sit between layer files of hundreds of MB.
      const reader = new TarReader(sourceInput(file, 64 << 10));
      for (let e = await reader.next(); e; e = await reader.next()) {
        if (e.global) continue;
        const name = safeEntryName(e.path, label);
        const type = e.type === '0' || e.type === '7' ? 'file' : e.type === '5' ? 'dir' : e.type === '2' ? 'symlink' : e.type === '1' ? 'hardlink' : 'other';
        if (type === 'symlink') resolveSymlink(name, e.linkpath, label);
        if (type === 'hardlink') safeEntryName(e.linkpath, label);
        if (name) entries.set(name, { name, type, offset: e.dataOffset, size: type === 'file' ? e.size : 0, linkname: e.linkpath });
      }
      if (reader.ended === 'eof') throw new TarFormatError(`archive is truncated (ends without the end-of-archive block at byte ${file.size})`);
      return new TarIndex(path, label, entries);
    } catch (err) {
      throw err instanceof TarFormatError ? new Error(`${label}: ${err.message}`) : err;
    } finally {
      await file.close();
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
