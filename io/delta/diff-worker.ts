// Worker thread body for the diff pool: runs core's jobs on transferred or shared buffers.
import { parentPort } from 'node:worker_threads';
import { diffJob, windowJob, type DiffResult } from '../../core/delta/differ.js';
import { fillChainIndex } from '../../core/delta/matcher.js';
import type { JobMessage } from './pool.js';

const buffers = (r: DiffResult) => [r.ctrl, r.runs, r.diff, r.extra].map((b) => b.buffer as ArrayBuffer);

parentPort!.on('message', (m: { id: number } & JobMessage) => {
  try {
    if (m.kind === 'index') {
      fillChainIndex(m.ix);
      parentPort!.postMessage({ id: m.id, result: null });
    } else {
      const r = m.kind === 'diff' ? diffJob(m.old, m.nw) : windowJob(m.ix, m.nw, m.newBase);
      parentPort!.postMessage({ id: m.id, result: r }, buffers(r));
    }
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});
