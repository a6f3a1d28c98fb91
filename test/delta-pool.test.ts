// Issue 10, fault 3: a diff worker that dies mid-job fails that job only, with a clear error, and
// the pool starts a new worker, so every other job (queued or later) still settles.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { diffJob, inThreadDiffer, joinWindows } from '../core/delta/differ.js';
import { allocChainIndex } from '../core/delta/matcher.js';
import { DiffPool } from '../io/delta/pool.js';
import { pseudoRandom } from './support/images.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The real worker body (compiled, as the CLI runs it), except that a job whose new data is
// exactly 13 bytes kills the worker thread the way a crash does: mid-job, without an answer.
const crashing = join(dir, 'crashing-worker.mjs');
const realWorker = pathToFileURL(join(import.meta.dirname, '..', 'dist', 'io', 'delta', 'diff-worker.js')).href;
// imports run in order, so the guard sees each job before the real worker does
writeFileSync(join(dir, 'guard.mjs'), "import { parentPort } from 'node:worker_threads';\nparentPort.on('message', (m) => { if (m.nw?.length === 13) process.exit(7); });\n");
writeFileSync(crashing, `import './guard.mjs';\nimport ${JSON.stringify(realWorker)};\n`);

describe('diff pool', () => {
  it('a worker that dies mid-job fails only that job, and the pool respawns', async () => {
    const pool = DiffPool.create(1, crashing);
    try {
      const pairs = Array.from({ length: 6 }, (_, i) => {
        const old = pseudoRandom(i + 1, 4096);
        const nw = Buffer.from(old);
        nw[100 + i]! ^= 0xff;
        return { old, nw };
      });
      const expected = pairs.map((p) => diffJob(new Uint8Array(p.old), new Uint8Array(p.nw)));
      const run = (p: { old: Buffer; nw: Buffer }) => pool.diff(new Uint8Array(p.old), new Uint8Array(p.nw));
      // one worker: the crash lands in the middle of a queue of jobs
      const results = await Promise.allSettled([run(pairs[0]!), run(pairs[1]!), pool.diff(new Uint8Array(8), new Uint8Array(13)), run(pairs[2]!), run(pairs[3]!)]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/diff worker crashed during a job \(exit code 7\)/);
      for (const [i, k] of [0, 1, null, 2, 3].entries()) if (k !== null) expect((results[i] as PromiseFulfilledResult<unknown>).value).toEqual(expected[k]);
      // and later jobs run on the new worker
      expect(await run(pairs[4]!)).toEqual(expected[4]);
      await expect(pool.diff(new Uint8Array(8), new Uint8Array(13))).rejects.toThrow(/crashed/);
      expect(await run(pairs[5]!)).toEqual(expected[5]);
    } finally {
      await pool.close();
    }
  });

  // Large files: the old bytes and the chain index in SharedArrayBuffers, filled by a worker, then
  // windows diffed on whichever worker is free: the same bytes as in one thread.
  it('fills a shared index on a worker and diffs windows as one thread does', async () => {
    const pool = DiffPool.create(2, fileURLToPath(realWorker));
    try {
      const base = pseudoRandom(7, 300_000);
      const old = new Uint8Array(new SharedArrayBuffer(base.length));
      old.set(base);
      const nw = Buffer.concat([base.subarray(150_000), pseudoRandom(8, 5000), base.subarray(0, 140_000)]);
      for (let i = 0; i < nw.length; i += 997) nw[i]! ^= 1;
      const shared = allocChainIndex(old, true);
      await pool.index(shared);
      const local = allocChainIndex(new Uint8Array(base));
      await inThreadDiffer.index(local);
      expect(shared.head).toEqual(local.head);
      expect(shared.prev).toEqual(local.prev);
      const W = 64 << 10;
      const starts = Array.from({ length: Math.ceil(nw.length / W) }, (_, k) => k * W);
      const viaPool = await Promise.all(starts.map((w) => pool.window(shared, new Uint8Array(nw.subarray(w, w + W)), w)));
      const inThread = await Promise.all(starts.map((w) => inThreadDiffer.window(local, new Uint8Array(nw.subarray(w, w + W)), w)));
      expect(joinWindows(viaPool)).toEqual(joinWindows(inThread));
    } finally {
      await pool.close();
    }
  });
});
