// Nothing half-written is ever visible: every file Lighter produces is written to a temp name in
// the same directory, fsynced, checked, renamed into place, and the directory fsynced (not on
// Windows, which refuses it).
import { promises as fs } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable, type Readable } from 'node:stream';

const TEMP_MARK = '.lighter-partial-';

export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `${TEMP_MARK}${basename(finalPath)}.${randomBytes(6).toString('hex')}`);
}

/**
 * Makes a rename or create in DIR durable. Windows cannot open a directory as a file (EPERM), so
 * there the step is skipped: NTFS journals its metadata, and a rename is the most it offers; the
 * file's own fsync, done before the rename, is kept everywhere.
 */
export async function fsyncDir(dir: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  if (platform === 'win32') return;
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes a stream or bytes to `finalPath` atomically, through an AtomicFile (its one commit
 * sequence). `verify` runs on the complete, fsynced temp file before the rename and may throw to
 * reject it; the temp file is removed on any failure.
 */
export async function writeFileAtomic(
  finalPath: string,
  data: Readable | Uint8Array | string,
  verify?: (tempPath: string) => Promise<void>,
): Promise<void> {
  // Opened now, awaited by the sink's construct(): the stream goes into the pipeline before anything
  // is awaited, since a stream that fails before the open is done (a VerifyingStream whose digest
  // check fails at its end) must already have pipeline's error listener, or its error is unhandled
  // (cd6569f, reverted in fca41a8). A failed open is the pipeline's error, through construct().
  const opening = AtomicFile.open(finalPath);
  let file: AtomicFile | undefined;
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      file = await opening;
      await file.write(typeof data === 'string' ? Buffer.from(data) : data);
    } else {
      await pipeline(
        data,
        new Writable({
          // Chunks that wait while a write is under way go out together (writev), each by position:
          // 512 MB in 64 KiB chunks took 0.38 s of user CPU with a write and a turn of the stream
          // per chunk, 0.28 s so, 0.27 s through the WriteStream before (medians of 5 at load 14).
          highWaterMark: 1 << 20, // what waits: at most 1 MiB besides the writes under way
          construct(done) {
            opening.then((f) => {
              file = f;
              done();
            }, done);
          },
          write(chunk: Buffer, _encoding, done) {
            file!.write(chunk).then(() => done(), done);
          },
          writev(chunks, done) {
            Promise.all(chunks.map((c) => file!.write(c.chunk as Buffer))).then(() => done(), done);
          },
        }),
      );
    }
  } catch (err) {
    // whenever the open ends: the pipeline may fail while it is under way
    await opening.then((f) => f.discard(), () => undefined);
    throw err;
  }
  await file!.commit(verify);
}

/** Removes temp files a killed process left behind in `dir` (not recursive). Returns how many. */
export async function sweepPartials(dir: string): Promise<number> {
  let n = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(TEMP_MARK)) {
      await fs.rm(join(dir, name), { recursive: true, force: true });
      n++;
    }
  }
  return n;
}

/**
 * Bytes written between background fdatasyncs of an AtomicFile. 8 MiB rather than 64: the disk
 * starts sooner and keeps up, so the commit's last fsync has little left. `lighter patch` of
 * app-update (329 MB out) at load ~1, 8 alternating runs, the commit's duration (waits + fsync)
 * median 40 -> 11-19 ms (max 100 -> 48), wall 1.01 -> 0.99 s, CPU the same (1.27 -> 1.28 s);
 * base-on-device (6 runs, load 1.4) 112 -> 55 ms, wall 1.08 -> 1.00 s. 4 MiB: 4 ms, not kept for
 * the device's flash (one more cache flush per 4 MiB).
 */
const FLUSH_EVERY = 8 << 20;

/**
 * A file written by position to a temp name and made visible by commit() (fsync, rename, directory
 * fsync): the one commit sequence, writeFileAtomic's too. While it is written, every FLUSH_EVERY bytes an fdatasync
 * runs in the background (one at a time), so the disk works while the writer does and the final
 * fsync has little left to wait for. Writes resolve when their buffer may be reused.
 */
export class AtomicFile {
  private pos = 0;
  private unsynced = 0;
  private flushing: Promise<void> | undefined;
  private flushError: unknown;
  /** fills of reserved ranges under way (reserve): commit and discard wait for them */
  private readonly filling = new Set<Promise<void>>();
  private fillError: unknown;
  private constructor(
    private readonly fh: fs.FileHandle,
    readonly tempPath: string,
    private readonly finalPath: string,
  ) {}

  static async open(finalPath: string): Promise<AtomicFile> {
    const tmp = tempPathFor(finalPath);
    return new AtomicFile(await fs.open(tmp, 'wx'), tmp, finalPath);
  }

  /** Appends `b` (calls may overlap: each takes its place in call order). */
  async write(b: Uint8Array): Promise<void> {
    const at = this.pos;
    this.pos += b.length;
    for (let done = 0; done < b.length; ) {
      const { bytesWritten } = await this.fh.write(b, done, b.length - done, at + done);
      done += bytesWritten;
    }
    this.wrote(b.length);
  }

  /**
   * Appends `n` bytes that `fill` writes by position through descriptor `fd` from `at` (another
   * thread may: io/image/copier.ts), in call order with write(); resolves when they are written.
   * The file stays open until every fill has ended, and commit fails if one failed.
   */
  reserve(n: number, fill: (fd: number, at: number) => Promise<void>): Promise<void> {
    const at = this.pos;
    this.pos += n;
    const p = fill(this.fh.fd, at).then(() => this.wrote(n));
    const tracked: Promise<void> = p.then(
      () => void this.filling.delete(tracked),
      (err: unknown) => {
        this.fillError ??= err; // and through the returned promise
        this.filling.delete(tracked);
      },
    );
    this.filling.add(tracked);
    return p;
  }

  /** Counts written bytes towards the next background fdatasync. */
  private wrote(n: number): void {
    this.unsynced += n;
    if (this.unsynced >= FLUSH_EVERY && !this.flushing) {
      this.unsynced = 0;
      this.flushing = this.fh.datasync().then(
        () => void (this.flushing = undefined),
        (err: unknown) => {
          this.flushError ??= err;
          this.flushing = undefined;
        },
      );
    }
  }

  /**
   * Makes the file durable and visible at its final path; `verify` may reject the complete, fsynced
   * temp file first. Removes it on any failure.
   */
  async commit(verify?: (tempPath: string) => Promise<void>): Promise<void> {
    try {
      await Promise.all(this.filling);
      if (this.fillError) throw this.fillError;
      await this.flushing;
      if (this.flushError) throw this.flushError;
      await this.fh.sync();
      await this.fh.close();
      if (verify) await verify(this.tempPath);
      await fs.rename(this.tempPath, this.finalPath);
      await fsyncDir(dirname(this.finalPath));
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  /** Drops the temp file (after commit: nothing to do). */
  async discard(): Promise<void> {
    await Promise.all(this.filling);
    await this.flushing;
    await this.fh.close().catch(() => undefined);
    await fs.rm(this.tempPath, { force: true });
  }
}
