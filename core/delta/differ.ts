// The differ as a job: old and new bytes in, the three bsdiff streams out. Runs in-thread here;
// io/delta/pool.ts runs the same function on worker threads.
import { diffBytes, newDiffOutput } from './bsdiff.js';
import { SuffixMatcher } from './matcher.js';

export interface DiffResult {
  ctrl: Uint8Array;
  diff: Uint8Array;
  extra: Uint8Array;
}

export interface Differ {
  diff(old: Uint8Array, nw: Uint8Array): Promise<DiffResult>;
}

export function diffJob(old: Uint8Array, nw: Uint8Array): DiffResult {
  const out = diffBytes(old, nw, new SuffixMatcher(old), newDiffOutput());
  return { ctrl: out.ctrl.take(), diff: out.diff.take(), extra: out.extra.take() };
}

export const inThreadDiffer: Differ = { diff: async (old, nw) => diffJob(old, nw) };
