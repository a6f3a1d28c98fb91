// Worker thread body for site-scanner.ts: scans an old x86-64 file for reference sites
// (core/delta/elf/references.ts scanSites), reading it by position from the file it lies in, and
// posts the sites as they are found, with how far they are known (none: the scan is over).
import { closeSync, openSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { scanSites, SCAN_REACH, type Sites } from '../../core/delta/elf/references.js';
import { readFullySync } from './file-source.js';
import type { ScanJob } from './site-scanner.js';

const CHUNK = 1 << 20;
const buf = new Uint8Array(CHUNK + SCAN_REACH + 1);

async function scan(m: ScanJob): Promise<void> {
  const fd = openSync(m.path, 'r');
  try {
    // the scan keeps no buffer past a read's next one
    const read = async (o: number, n: number): Promise<Uint8Array> => {
      if (o < 0 || o + n > m.length) throw new RangeError(`read ${o}+${n} outside the ${m.length}-byte file`);
      const v = n <= buf.length ? buf.subarray(0, n) : new Uint8Array(n);
      readFullySync(fd, v, m.offset + o, m.path);
      return v;
    };
    // the entries found since the last post (references.ts Sites.append), forgotten here once posted
    let count = 0;
    const post = (sites: Sites, frontier: number | undefined) => {
      const entries = sites.takeEntries();
      parentPort!.postMessage({ id: m.id, entries, sites: sites.count - count, frontier }, [entries.buffer as ArrayBuffer]);
      count = sites.count;
    };
    post(await scanSites(m.layout, m.length, read, CHUNK, m.opts, post), undefined);
  } finally {
    closeSync(fd);
  }
}

parentPort!.on('message', (m: ScanJob) => {
  scan(m).catch((err: unknown) => parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) }));
});
