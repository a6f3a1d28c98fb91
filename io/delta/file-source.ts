// File-backed byte sources: a layer tar spooled to disk gives the delta engine random access
// without holding the layer in memory.
import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs, readSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { ByteSource } from '../../core/delta/bytes.js';
import { DigestMismatchError } from '../digest.js';

/**
 * A file read by position. Reads are synchronous preads: the engine awaits every read before it
 * can go on, and a promise read of 64 KiB from the page cache costs ~30 µs of the main thread (the
 * thread-pool round trip) against ~7 µs for the pread itself (20,000 reads: 613 against 135 ms);
 * runtime-update's apply makes ~25,000 (its old-byte block cache) and spent 0.7 s of 6 s in them.
 */
export class FileSource implements ByteSource {
  private constructor(
    private readonly fh: fs.FileHandle,
    readonly size: number,
    readonly path: string,
  ) {}

  static async open(path: string): Promise<FileSource> {
    const fh = await fs.open(path, 'r');
    return new FileSource(fh, (await fh.stat()).size, path);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(buf, offset);
    return buf;
  }

  async readInto(target: Uint8Array, offset: number): Promise<void> {
    this.readIntoSync(target, offset);
  }

  /**
   * As readInto, on the thread pool: for long sequential reads (a whole layer's check), where a
   * synchronous pread would hold the event loop for its whole length.
   */
  async load(target: Uint8Array, offset: number): Promise<void> {
    const length = target.length;
    if (offset < 0 || offset + length > this.size) throw new RangeError(`read ${offset}+${length} outside ${this.path} (${this.size} bytes)`);
    for (let done = 0; done < length; ) {
      const { bytesRead } = await this.fh.read(target, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${this.path} shrank while reading`);
      done += bytesRead;
    }
  }

  readIntoNow(target: Uint8Array, offset: number): boolean {
    this.readIntoSync(target, offset);
    return true;
  }

  /** readInto, done before it returns. */
  readIntoSync(target: Uint8Array, offset: number): void {
    if (offset < 0 || offset + target.length > this.size) throw new RangeError(`read ${offset}+${target.length} outside ${this.path} (${this.size} bytes)`);
    readFullySync(this.fh.fd, target, offset, this.path);
  }

  /** Where the bytes lie, for another thread to read them (a spooled file was verified as it was written). */
  span(): { path: string; offset: number } {
    return { path: this.path, offset: 0 };
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Fills `target` from descriptor `fd` (of `path`) at `offset` by preads; the file must hold the range. */
export function readFullySync(fd: number, target: Uint8Array, offset: number, path: string): void {
  for (let done = 0; done < target.length; ) {
    const n = readSync(fd, target, done, target.length - done, offset + done);
    if (n === 0) throw new Error(`${path} shrank while reading`);
    done += n;
  }
}

/** Writes a (verified) stream to `path` and opens it for random access. */
export async function spool(stream: Readable, path: string): Promise<FileSource> {
  await pipeline(stream, createWriteStream(path, { flags: 'wx' }));
  return FileSource.open(path);
}

/** The parts a FileRange's check reads and hashes, two at a time. */
const CHECK_PART = 1 << 20;

/**
 * A layer tar that lies uncompressed inside a local file (a docker-archive's layer entry), read in
 * place instead of copied out: the copy was a quarter of an apply's time. Its sha256 is checked
 * against the diffID, reading the range once, before the first byte is handed out; a layer the
 * patch never reads is never read.
 */
export class FileRange implements ByteSource {
  private checked: Promise<void> | undefined;
  private ok = false;
  private constructor(
    private readonly file: FileSource,
    private readonly offset: number,
    readonly size: number,
    private readonly diffID: string,
    private readonly what: string,
  ) {}

  static async open(path: string, offset: number, size: number, diffID: string, what: string): Promise<FileRange> {
    const file = await FileSource.open(path);
    if (offset < 0 || offset + size > file.size) {
      await file.close();
      throw new Error(`${what}: ${path} is shorter than the layer it should hold`);
    }
    return new FileRange(file, offset, size, diffID, what);
  }

  private async check(): Promise<void> {
    // Each part is hashed while the next one is read (on the thread pool): read, then hash, took
    // node 22.11's 170 MB layer 0.45-0.6 s of runtime-update's apply at load 5, every byte waited for.
    const h = createHash('sha256');
    const bufs = [Buffer.allocUnsafe(CHECK_PART), Buffer.allocUnsafe(CHECK_PART)];
    const part = (o: number) => bufs[(o / CHECK_PART) & 1]!.subarray(0, Math.min(CHECK_PART, this.size - o));
    let next = this.size > 0 ? this.file.load(part(0), this.offset) : undefined;
    for (let o = 0; o < this.size; o += CHECK_PART) {
      await next;
      next = o + CHECK_PART < this.size ? this.file.load(part(o + CHECK_PART), this.offset + o + CHECK_PART) : undefined;
      h.update(part(o));
    }
    const actual = `sha256:${h.digest('hex')}`;
    if (actual !== this.diffID) throw new DigestMismatchError(this.what, this.diffID, actual);
    this.ok = true;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(buf, offset);
    return buf;
  }

  async readInto(target: Uint8Array, offset: number): Promise<void> {
    if (offset < 0 || offset + target.length > this.size) throw new RangeError(`read ${offset}+${target.length} outside ${this.what} (${this.size} bytes)`);
    if (!this.ok) await (this.checked ??= this.check());
    this.file.readIntoSync(target, this.offset + offset);
  }

  /** Only once the range is checked: before, readInto checks it (reading it all) first. */
  readIntoNow(target: Uint8Array, offset: number): boolean {
    if (!this.ok) return false;
    if (offset < 0 || offset + target.length > this.size) throw new RangeError(`read ${offset}+${target.length} outside ${this.what} (${this.size} bytes)`);
    this.file.readIntoSync(target, this.offset + offset);
    return true;
  }

  /** Where the bytes lie, for another thread to read them: only once they are checked. */
  span(): { path: string; offset: number } | undefined {
    return this.ok ? { path: this.file.path, offset: this.offset } : undefined;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
