// Worker thread body for io/image/copier.ts: copies a byte range of one file into another file by
// position (a descriptor the main thread keeps open), hashing the bytes as they are read.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { CopyJob } from './copier.js';

const BLOCK = 1 << 20;
const buf = Buffer.allocUnsafe(BLOCK);

function copy(m: CopyJob): string {
  const src = openSync(m.path, 'r');
  try {
    const hash = createHash('sha256');
    for (let o = 0; o < m.size; ) {
      const n = readSync(src, buf, 0, Math.min(BLOCK, m.size - o), m.offset + o);
      if (n === 0) throw new Error(`${m.path} shrank while reading`);
      hash.update(buf.subarray(0, n));
      for (let w = 0; w < n; ) w += writeSync(m.fd, buf, w, n - w, m.at + o + w);
      o += n;
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
