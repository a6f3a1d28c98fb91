// The differ as a job: old and new bytes in, the bsdiff streams out. Runs in-thread here;
// io/delta/pool.ts runs the same function on worker threads.
import { diffBytes, newDiffOutput, type DiffOutput } from './bsdiff.js';
import { SuffixMatcher } from './matcher.js';

export interface DiffResult {
  ctrl: Uint8Array;
  runs: Uint8Array;
  diff: Uint8Array;
  extra: Uint8Array;
}

export interface Differ {
  diff(old: Uint8Array, nw: Uint8Array): Promise<DiffResult>;
}

export function takeResult(out: DiffOutput): DiffResult {
  return { ctrl: out.ctrl.take(), runs: out.runs.take(), diff: out.diff.take(), extra: out.extra.take() };
}

export function diffJob(old: Uint8Array, nw: Uint8Array): DiffResult {
  const out = diffBytes(old, nw, new SuffixMatcher(old), newDiffOutput());
  return takeResult(out);
}

export const inThreadDiffer: Differ = { diff: async (old, nw) => diffJob(old, nw) };
