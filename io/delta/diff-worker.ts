// Worker thread body for the diff pool: runs core's diffJob on transferred buffers.
import { parentPort } from 'node:worker_threads';
import { diffJob } from '../../core/delta/differ.js';

parentPort!.on('message', (m: { id: number; old: Uint8Array; nw: Uint8Array }) => {
  try {
    const r = diffJob(m.old, m.nw);
    parentPort!.postMessage({ id: m.id, result: r }, [r.ctrl, r.runs, r.diff, r.extra].map((b) => b.buffer as ArrayBuffer));
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: err instanceof Error ? err.message : String(err) });
  }
});
