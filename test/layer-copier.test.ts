// The layer copier (io/image/copier.ts) on its compiled worker, as the CLI runs it: a range of one
// file copied into an AtomicFile's reserved range between ordinary writes, hashed as it is copied;
// a failed copy fails the commit and leaves no file.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AtomicFile } from '../io/atomic-file.js';
import { Copier } from '../io/image/copier.js';
import { pseudoRandom } from './support/images.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-copier-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const script = join(import.meta.dirname, '..', 'dist', 'io', 'image', 'copy-worker.js');
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('layer copier', () => {
  it('copies a range into a reserved part of an archive, between writes, with the digest of what it copied', async () => {
    const copier = Copier.create(script)!;
    expect(copier).toBeDefined();
    const src = pseudoRandom(3, 3 * (1 << 20) + 12345);
    writeFileSync(join(dir, 'src'), src);
    const out = join(dir, 'out');
    const f = await AtomicFile.open(out);
    const head = pseudoRandom(4, 1000);
    const tail = pseudoRandom(5, 777);
    const range = { offset: 4321, size: src.length - 4321 - 99 };
    await f.write(head);
    let digest = '';
    const copied = f.reserve(range.size, async (fd, at) => {
      digest = await copier.copy({ path: join(dir, 'src'), ...range, fd, at });
    });
    expect(copier.busy).toBe(true);
    await f.write(tail);
    await copied;
    expect(copier.busy).toBe(false);
    await f.commit();
    const want = Buffer.concat([head, src.subarray(range.offset, range.offset + range.size), tail]);
    expect(readFileSync(out).equals(want)).toBe(true);
    expect(digest).toBe(sha(src.subarray(range.offset, range.offset + range.size)));
  });

  it('a copy that fails (a source shorter than the range) fails the commit and leaves nothing', async () => {
    const copier = Copier.create(script)!;
    writeFileSync(join(dir, 'short'), pseudoRandom(6, 5000));
    const out = join(dir, 'failed');
    const f = await AtomicFile.open(out);
    await f.write(new Uint8Array(10));
    const copied = f.reserve(9000, async (fd, at) => void (await copier.copy({ path: join(dir, 'short'), offset: 0, size: 9000, fd, at })));
    await expect(copied).rejects.toThrow(/layer copy: .*shrank while reading/);
    await expect(f.commit()).rejects.toThrow(/shrank while reading/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('failed'))).toEqual([]);
  });
});
