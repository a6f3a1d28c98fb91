// Runs an x86 delta's reference scan (core/delta/elf/references.ts) on a worker thread
// (scan-worker.ts) while the applier's thread reads the delta's control and predicts the old file
// from its start: the scan of the old node binary's 36 MB of code was the longest serial step of
// runtime-update's apply (~0.36 s). The sites come back in order as they are found (SiteFeed); the
// applier waits only where it needs sites not yet known. Only a base layer already checked against
// its diffID is scanned (FileRange.span is undefined before). One worker per scan, ended when the
// scan is (~10 MB while it lives). Where the compiled worker does not exist (tests running
// TypeScript sources) the applier scans in-thread.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ByteSource } from '../../core/delta/bytes.js';
import type { ElfLayout } from '../../core/delta/elf/layout.js';
import type { SiteFeed, SiteOptions, SiteScanner } from '../../core/delta/elf/references.js';
import { FileRange, FileSource } from './file-source.js';

/** Scan old file bytes [offset, offset + length) of `path`, laid out as `layout`. */
export interface ScanJob {
  id: number;
  path: string;
  offset: number;
  length: number;
  layout: ElfLayout;
  opts: SiteOptions;
}

type Reply = { id: number; entries: Uint16Array; sites: number; frontier?: number } | { id: number; error: string };

const SCRIPT = fileURLToPath(new URL('./scan-worker.js', import.meta.url));

/** A SiteScanner on worker threads, or undefined where the compiled worker script does not exist. */
export function workerScanner(script = SCRIPT): SiteScanner | undefined {
  if (!existsSync(script)) return undefined;
  let nextId = 0;
  return (src: ByteSource, offset: number, length: number, layout: ElfLayout, opts: SiteOptions, feed: SiteFeed): boolean => {
    const span = src instanceof FileRange || src instanceof FileSource ? src.span() : undefined;
    if (!span) return false;
    const job: ScanJob = { id: nextId++, path: span.path, offset: span.offset + offset, length, layout, opts };
    const w = new Worker(script, { resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 } });
    let over = false;
    w.on('message', (m: Reply) => {
      if ('error' in m) feed.fail(new Error(`reference scan: ${m.error}`));
      else if (m.frontier !== undefined) return feed.push(m.entries, m.sites, m.frontier);
      else feed.end(m.entries, m.sites);
      over = true;
      void w.terminate();
    });
    w.on('error', (e) => feed.fail(new Error(`reference scan worker failed: ${e.message}`)));
    w.on('exit', (code) => {
      if (!over) feed.fail(new Error(`reference scan worker stopped during a scan (exit code ${code})`));
    });
    w.postMessage(job);
    return true;
  };
}
