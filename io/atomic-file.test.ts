import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { fsyncDir, writeFileAtomic } from './atomic-file.js';
import { DigestMismatchError, sha256, VerifyingStream } from './digest.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** Makes this process look like Windows: opening a directory fails with EPERM, as it does there. */
function actLikeWindows(): string[] {
  const dirsOpened: string[] = [];
  const realOpen = fs.open.bind(fs);
  vi.spyOn(process, 'platform', 'get').mockReturnValue('win32');
  vi.spyOn(fs, 'open').mockImplementation(async (path, ...rest) => {
    if ((await fs.stat(path).catch(() => undefined))?.isDirectory()) {
      dirsOpened.push(String(path));
      throw Object.assign(new Error(`EPERM: operation not permitted, open '${String(path)}'`), { code: 'EPERM' });
    }
    return realOpen(path, ...rest);
  });
  return dirsOpened;
}

describe('atomic files', () => {
  it('fsyncs the directory where the OS allows it', async () => {
    await expect(fsyncDir(join(dir, 'no-such-dir'))).rejects.toThrow(/ENOENT/);
    await expect(fsyncDir(dir)).resolves.toBeUndefined();
    // what Windows gets: the step is skipped, nothing is opened
    await expect(fsyncDir(join(dir, 'no-such-dir'), 'win32')).resolves.toBeUndefined();
  });

  it('on Windows, skips only the directory fsync (which Windows refuses) and still writes atomically', async () => {
    const opened = actLikeWindows();
    await expect(fsyncDir(dir)).resolves.toBeUndefined();
    const file = join(dir, 'state.json');
    await writeFileAtomic(file, '{"version":1}\n');
    expect(readFileSync(file, 'utf8')).toBe('{"version":1}\n');
    expect(opened, 'no directory was opened').toEqual([]);
    expect(readdirSync(dir).filter((n) => n.startsWith('.lighter-partial-'))).toEqual([]);
  });

  it('a file that fails its check is never renamed into place', async () => {
    const file = join(dir, 'checked.bin');
    await expect(writeFileAtomic(file, 'bad', () => Promise.reject(new Error('rejected')))).rejects.toThrow('rejected');
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('.lighter-partial-'))).toEqual([]);
  });

  it('writes a stream whole, and leaves nothing (not even the old file changed) when the stream fails', async () => {
    const file = join(dir, 'streamed.bin');
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(70_000, i));
    await writeFileAtomic(file, Readable.from(chunks));
    expect(readFileSync(file).equals(Buffer.concat(chunks))).toBe(true);
    const failing = Readable.from((async function* () {
      yield Buffer.alloc(100_000, 1);
      throw new Error('read error: link dropped');
    })());
    await expect(writeFileAtomic(file, failing)).rejects.toThrow('link dropped');
    expect(readFileSync(file).equals(Buffer.concat(chunks)), 'the old file is untouched').toBe(true);
    expect(readdirSync(dir).filter((n) => n.startsWith('.lighter-partial-'))).toEqual([]);
  });

  it('takes a stream that fails at its end, before the temp file is open, without an unhandled error', async () => {
    // What io/blob/device-index.ts hands it: a body piped into a VerifyingStream, whose digest check
    // fails as the body ends, which a small body does before the open of the temp file is done.
    const file = join(dir, 'checked-stream.bin');
    const body = Readable.from([Buffer.from('not the bundle')]);
    const verified = body.pipe(new VerifyingStream('bundle x', { digest: sha256('the bundle'), size: 14 }));
    await expect(writeFileAtomic(file, verified)).rejects.toThrow(DigestMismatchError);
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith('.lighter-partial-'))).toEqual([]);
  });

  it('leaves no temp file when the directory cannot take one', async () => {
    await expect(writeFileAtomic(join(dir, 'no-such-dir', 'f'), Readable.from([Buffer.from('x')]))).rejects.toThrow(/ENOENT/);
    await expect(writeFileAtomic(join(dir, 'no-such-dir', 'f'), 'x')).rejects.toThrow(/ENOENT/);
  });
});
