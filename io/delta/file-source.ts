// File-backed byte sources: a layer tar spooled to disk gives the delta engine random access
// without holding the layer in memory.
import { createWriteStream, promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { ByteSource } from '../../core/delta/bytes.js';

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
    if (offset < 0 || length < 0 || offset + length > this.size) throw new RangeError(`read ${offset}+${length} outside ${this.path} (${this.size} bytes)`);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${this.path} shrank while reading`);
      done += bytesRead;
    }
    return buf;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** Writes a (verified) stream to `path` and opens it for random access. */
export async function spool(stream: Readable, path: string): Promise<FileSource> {
  await pipeline(stream, createWriteStream(path, { flags: 'wx' }));
  return FileSource.open(path);
}
