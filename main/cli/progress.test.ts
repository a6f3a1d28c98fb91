// The CLI bar draws what the job service reports, rate and ETA included.
import { describe, expect, it } from 'vitest';
import type { JobInfo } from '../../contract/jobs.js';
import { formatBar } from './progress.js';

const job = (over: Partial<JobInfo>): JobInfo => ({
  id: 1, kind: 'bundle-build', title: 't', params: {}, state: 'running', stage: null, done: 0, total: 0, unit: 'bytes', rate: null, etaSeconds: null,
  resource: null, actor: 'ana', startedAt: '', finishedAt: null, result: null, error: null, cancelling: false, ...over,
});

describe('formatBar', () => {
  it('shows the fraction, amounts, rate, ETA and stage', () => {
    expect(formatBar('build', job({ done: 12 << 20, total: 24 << 20, rate: 3 << 20, etaSeconds: 4, stage: 'diffing' }), 10)).toBe(
      'build [#####.....]  50% 12.0 MiB/24.0 MiB 3.0 MiB/s 4s left  diffing',
    );
    expect(formatBar('apply', job({ done: 3, total: 4, unit: 'items', etaSeconds: 125 }), 4)).toBe('apply [###.]  75% 3/4 2m05s left');
  });
});
