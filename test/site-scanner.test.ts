// The reference scan on its compiled worker (io/delta/site-scanner.ts), as `lighter patch` runs it:
// the sites of an x86-64 executable lying inside a larger file, fed back in order, the same as the
// in-memory scan finds; a range not yet checked against its digest is not handed to the worker,
// and a read that fails there fails the feed.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { elfLayout, HEAD_BYTES, type ElfLayout } from '../core/delta/elf/layout.js';
import { ALL_SITES, scanSitesSync, SiteFeed, siteRanges } from '../core/delta/elf/references.js';
import { siteList } from '../core/delta/testing.js';
import { FileRange } from '../io/delta/file-source.js';
import { workerScanner } from '../io/delta/site-scanner.js';
import { pseudoRandom } from './support/images.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-scan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const script = join(import.meta.dirname, '..', 'dist', 'io', 'delta', 'scan-worker.js');
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
// an x86-64 executable the machine has: this shell
const elf = new Uint8Array(readFileSync('/bin/bash'));

const ranges = (layout: ElfLayout) => siteRanges(layout, async (o, n) => elf.subarray(o, o + n));

async function rangeOf(name: string, headLen: number): Promise<{ range: FileRange; at: number }> {
  const head = pseudoRandom(7, headLen);
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([head, elf, pseudoRandom(8, 999)]));
  const layer = readFileSync(file);
  return { range: await FileRange.open(file, 0, layer.length, sha(layer), name), at: headLen };
}

describe('reference scan worker', () => {
  it('feeds the sites the in-memory scan finds, in order, for a file inside a checked range', async () => {
    const scanner = workerScanner(script)!;
    expect(scanner).toBeDefined();
    const layout = elfLayout(elf.subarray(0, HEAD_BYTES), elf.length)!;
    expect(layout).toBeDefined();
    const { range, at } = await rangeOf('layer', 12345);
    try {
      const feed = new SiteFeed(await ranges(layout));
      expect(scanner(range, at, elf.length, layout, ALL_SITES, feed)).toBe(false); // not checked yet
      await range.read(0, 1);
      expect(scanner(range, at, elf.length, layout, ALL_SITES, feed)).toBe(true);
      await feed.need(0, Infinity); // the scan is over
      const sites = feed.sites;
      const want = scanSitesSync(layout, elf);
      expect(want.count).toBeGreaterThan(1000);
      expect(sites.count).toBe(want.count);
      expect(siteList(sites)).toEqual(siteList(want));
    } finally {
      await range.close();
    }
  });

  it('fails the feed when the file shrinks under the scan', async () => {
    const scanner = workerScanner(script)!;
    const layout = elfLayout(elf.subarray(0, HEAD_BYTES), elf.length)!;
    const { range, at } = await rangeOf('shrinking', 100);
    try {
      await range.read(0, 1);
      truncateSync(join(dir, 'shrinking'), at + 4096);
      const feed = new SiteFeed(await ranges(layout));
      expect(scanner(range, at, elf.length, layout, ALL_SITES, feed)).toBe(true);
      await expect(feed.need(0, Infinity)).rejects.toThrow(/reference scan: .*shrank while reading/);
    } finally {
      await range.close();
    }
  });
});
