import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useAzurite } from '../../test/support/azurite.js';
import { blockId, bundleBlobName, DEFAULT_BLOCK_SIZE as BS, uploadBlob, type BlockLedger } from './block-upload.js';
import { containerClient, parseStorageCredential } from './storage.js';

class MemoryLedger implements BlockLedger {
  readonly rows = new Map<string, { blockSize: number; blocks: Set<number> }>();
  staged(blob: string) {
    const r = this.rows.get(blob);
    return r ? { blockSize: r.blockSize, blocks: [...r.blocks] } : undefined;
  }
  recordStaged(blob: string, blockSize: number, index: number) {
    const r = this.rows.get(blob) ?? { blockSize, blocks: new Set<number>() };
    r.blocks.add(index);
    this.rows.set(blob, r);
  }
  forget(blob: string) {
    this.rows.delete(blob);
  }
}

const azurite = useAzurite();
const dir = mkdtempSync(join(tmpdir(), 'lighter-blob-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bundleFile(name: string, size: number) {
  const data = randomBytes(size);
  const file = join(dir, name);
  writeFileSync(file, data);
  return { file, size, sha256: `sha256:${createHash('sha256').update(data).digest('hex')}` };
}

describe('uploadBlob', () => {
  it('resumes after an abort with only the blocks the service lacks, and commits the bundle byte for byte', async () => {
    const container = containerClient(parseStorageCredential(azurite.connectionString(), 'resume'));
    await container.createIfNotExists();
    const b = bundleFile('a.lighter', 3 * BS + 1234);
    const ledger = new MemoryLedger();
    const name = bundleBlobName(b.sha256);
    const base = { container, name, ...b, metadata: { bundleid: 'sha256:abc', devices: 'dev-1,dev-2' }, ledger };

    const stop = new AbortController();
    let progressed = 0;
    await expect(
      uploadBlob({
        ...base,
        signal: stop.signal,
        onProgress: (done) => {
          progressed = done;
          if (done >= 2 * BS) stop.abort(new Error('paused'));
        },
      }),
    ).rejects.toThrow('paused');
    expect(progressed).toBe(2 * BS);
    expect(ledger.staged(name)?.blocks.sort()).toEqual([0, 1]);

    // A restart that lost its records still finds the staged blocks through the service.
    ledger.rows.clear();
    const r = await uploadBlob(base);
    expect(r).toMatchObject({ alreadyThere: false, blocksSent: 2, blocksReused: 2 });
    expect(ledger.staged(name)).toBeUndefined();

    const blob = container.getBlockBlobClient(name);
    const got = await blob.downloadToBuffer();
    expect(`sha256:${createHash('sha256').update(got).digest('hex')}`).toBe(b.sha256);
    const props = await blob.getProperties();
    expect(props.metadata).toMatchObject({ bundleid: 'sha256:abc', devices: 'dev-1,dev-2', sha256: b.sha256 });
    expect((await blob.getBlockList('committed')).committedBlocks?.map((x) => x.name)).toEqual([0, 1, 2, 3].map((i) => blockId(BS, i)));

    expect(await uploadBlob(base)).toMatchObject({ alreadyThere: true, blocksSent: 0 });
  });

  it('refuses a file whose sha256 is not the bundle’s and sends nothing', async () => {
    const container = containerClient(parseStorageCredential(azurite.connectionString(), 'damaged'));
    await container.createIfNotExists();
    const b = bundleFile('b.lighter', 100_000);
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(uploadBlob({ container, name: bundleBlobName(wrong), ...b, sha256: wrong, metadata: {}, ledger: new MemoryLedger() })).rejects.toThrow(/not the bundle's/);
    const names: string[] = [];
    for await (const x of container.listBlobsFlat({ includeUncommitedBlobs: true })) names.push(x.name);
    expect(names).toEqual([]);
  });

  it('says so when the bundle file is gone from the store', async () => {
    const container = containerClient(parseStorageCredential(azurite.connectionString(), 'damaged'));
    const sha = `sha256:${'1'.repeat(64)}`;
    await expect(uploadBlob({ container, name: bundleBlobName(sha), file: join(dir, 'gone.lighter'), sha256: sha, size: 10, metadata: {}, ledger: new MemoryLedger() })).rejects.toThrow(/missing from the bundle store/);
  });

  it('keeps the credential out of its error messages', () => {
    expect(() => parseStorageCredential('AccountName=x;AccountKey=c2VjcmV0')).toThrow('container name');
    expect(() => parseStorageCredential('not-a-credential-s3cr3t')).not.toThrow(/s3cr3t/);
    expect(() => parseStorageCredential('not-a-credential-s3cr3t')).toThrow(/neither/);
    expect(() => parseStorageCredential('https://acct.blob.core.windows.net/c')).toThrow(/no SAS signature/);
  });
});
