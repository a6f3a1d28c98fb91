// Worker thread body for io/image/copier.ts: copies a byte range of one file into another file by
// position (a descriptor the main thread keeps open), hashing the bytes as they are read.
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { readFullySync } from '../delta/file-source.js';
import { hashedBlocks, type CopyJob } from './copier.js';

const buf = Buffer.allocUnsafe(1 << 20);

function copy(m: CopyJob): string {
  const src = openSync(m.path, 'r');
  try {
    const hash = createHash('sha256');
    let at = m.at;
    // one buffer: each block is written before the next is read
    for (const b of hashedBlocks((t, o) => readFullySync(src, t, o, m.path), m.offset, m.size, [buf], hash)) {
      for (let w = 0; w < b.length; ) w += writeSync(m.fd, b, w, b.length - w, at + w);
      at += b.length;
    }
    return `sha256:${hash.digest('hex')}`;
  } finally {
    closeSync(src);
  }
}

parentPort!.on('message', (m: CopyJob & { id: number }) => {
  try {
    parentPort!.postMessage({ id: m.id, digest: copy(m) });
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});
