// The differ as a job: old and new bytes in, the bsdiff streams out. Runs in-thread here;
// io/delta/pool.ts runs the same function on worker threads.
import { diffBytes, newDiffOutput, type DiffOutput } from './bsdiff.js';
import { SuffixMatcher } from './matcher.js';
import { x86Differences } from './elf/delta.js';

export interface DiffResult {
  ctrl: Uint8Array;
  runs: Uint8Array;
  diff: Uint8Array;
  extra: Uint8Array;
  /** runs/diff are taken against x86-64 reference predictions (elf/delta.ts). */
  x86: boolean;
}

export interface Differ {
  diff(old: Uint8Array, nw: Uint8Array): Promise<DiffResult>;
}

export function takeResult(out: DiffOutput): DiffResult {
  return { ctrl: out.ctrl.take(), runs: out.runs.take(), diff: out.diff.take(), extra: out.extra.take(), x86: false };
}

/**
 * Takes the x86-64 prediction's differences when the old file is an ELF executable and they are
 * smaller (raw bytes: runs plus nonzero differences, what brotli mostly pays for).
 */
export function withX86Prediction(old: Uint8Array, nw: Uint8Array, r: DiffResult): DiffResult {
  const p = x86Differences(old, nw, r.ctrl);
  return p && p.runs.length + p.diff.length < r.runs.length + r.diff.length ? { ...r, ...p, x86: true } : r;
}

export function diffJob(old: Uint8Array, nw: Uint8Array): DiffResult {
  const out = diffBytes(old, nw, new SuffixMatcher(old), newDiffOutput());
  return withX86Prediction(old, nw, takeResult(out));
}

export const inThreadDiffer: Differ = { diff: async (old, nw) => diffJob(old, nw) };
