// Turning stored blobs into verified uncompressed layer tars and back: decompression by type,
// gzip for destinations that store compressed layers, and spooling to temp files where a size or
// digest must be known before the bytes can be sent.
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { Duplex, PassThrough, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zlib } from 'node:zlib';
import type { Descriptor } from '../../core/image/descriptor.js';
import type { Compression } from '../../core/image/media-types.js';
import type { FileSpan, ImageDestination } from './types.js';
import { VerifyingStream } from '../digest.js';

/** A stream that decompresses `compression` (zstd through the Debian `zstd` tool: Node 20 has none). */
export function decompressor(compression: Compression): Duplex {
  if (compression === 'none') return new PassThrough();
  if (compression === 'gzip') return createGunzip({ chunkSize: 1 << 16 });
  // child_process (with dgram) is loaded here, not with this module: the edge module imports this
  // module to apply bundles, has no other use for it, and rarely meets zstd.
  const child = process.getBuiltinModule('node:child_process').spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const d = Duplex.from({ writable: child.stdin, readable: child.stdout });
  child.on('error', (err) => d.destroy(new Error(`cannot run zstd to decompress a layer: ${err.message}`)));
  child.on('exit', (code) => code !== 0 && d.destroy(new Error(`zstd failed to decompress a layer: ${stderr.trim() || `exit ${code}`}`)));
  return d;
}

/** gzip at level 6: what docker push and skopeo produce by default. */
export function gzipper(): Transform {
  return createGzip({ level: 6, chunkSize: 1 << 16, strategy: zlib.Z_DEFAULT_STRATEGY });
}

/** Pipes streams together and returns the last, with the first error of any stage delivered on it. */
export function chain(first: Readable, ...rest: Duplex[]): Readable {
  const last = rest[rest.length - 1] ?? first;
  pipeline([first, ...rest] as unknown as ReadonlyArray<NodeJS.ReadWriteStream>).catch((err: Error) => {
    if (!last.destroyed) last.destroy(err);
  });
  return last as Readable;
}

/** A file-backed copy of a stream with its digest and size, removed by `dispose`. */
export interface Spooled {
  path: string;
  digest: string;
  size: number;
  /** the bytes from `start` to `end` inclusive (default: all) */
  open(start?: number, end?: number): Readable;
  dispose(): Promise<void>;
}

/** Writes `data` (optionally through `transform`) to `path`, computing sha256 and size; `expect` is verified. */
export async function spool(data: Readable, path: string, expect?: { digest?: string; size?: number; what: string }, transform?: Transform): Promise<Spooled> {
  let digest = '';
  let size = 0;
  const v = new VerifyingStream(expect?.what ?? path, expect, (d, s) => ((digest = d), (size = s)));
  try {
    await pipeline([data, ...(transform ? [transform] : []), v, createWriteStream(path, { flags: 'wx' })] as unknown as ReadonlyArray<NodeJS.ReadWriteStream>);
  } catch (err) {
    await fs.rm(path, { force: true });
    throw err;
  }
  return {
    path,
    digest,
    size,
    open: (start = 0, end = size - 1) => (end < start ? Readable.from([]) : createReadStream(path, { start, end, highWaterMark: 1 << 20 })),
    dispose: () => fs.rm(path, { force: true }),
  };
}

/** Hashes the uncompressed form of a compressed stream as it passes, failing at the end on a diffID mismatch. */
export class DiffIDCheck extends Transform {
  private readonly inner: Duplex;
  private readonly verify: VerifyingStream;
  private innerDone: Promise<void>;
  constructor(compression: Compression, diffID: string) {
    super();
    this.inner = decompressor(compression);
    this.verify = new VerifyingStream(`layer ${diffID} (uncompressed)`, { digest: diffID });
    this.innerDone = pipeline(this.inner, this.verify, new NullSink());
    this.innerDone.catch(() => undefined);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.inner.write(chunk)) this.inner.once('drain', () => cb(null, chunk));
    else cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    this.inner.end();
    this.innerDone.then(() => cb(), cb);
  }
}

class NullSink extends Writable {
  override _write(_c: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb();
  }
}

/**
 * Stores a layer in `dest`: copied from the local file it lies in (`file`) where the destination
 * can (ImageDestination.putLayerFile), else streamed from `open()`; checked against `diffID` either way.
 */
export async function putLayer(dest: ImageDestination, diffID: string, size: number, file: FileSpan | undefined, open: () => Promise<Readable>, what: string): Promise<Descriptor> {
  if (file && dest.putLayerFile) return dest.putLayerFile(diffID, file, what);
  return dest.putLayerTar(diffID, await open(), size);
}
