// One job's progress as a bar with amounts, rate, time to go and stage, and a Cancel button while
// it runs; the outcome (result line or error) when it ended. Used wherever a view starts a job.
import type { JobInfo } from '../../../contract/index.js';
import { bytes, duration } from '../../ui/format.js';
import { Badge } from '../../ui/parts.js';
import { useJobs } from './store.js';

function amount(job: JobInfo, n: number): string {
  return job.unit === 'bytes' ? bytes(n) : String(n);
}

export function JobProgress({ job, summary }: { job: JobInfo; summary?: (job: JobInfo) => string | null }) {
  const cancel = useJobs((s) => s.cancel);
  const pct = job.total > 0 ? Math.min(100, Math.floor((100 * job.done) / job.total)) : 0;
  const running = job.state === 'running';
  return (
    <div className="job" data-job={job.id} data-state={job.state}>
      <div className="job-head">
        <span className="job-title">{job.title}</span>
        <Badge state={job.cancelling ? 'cancelling' : job.state} />
        {running && (
          <button className="button button-small" onClick={() => void cancel(job.id)} disabled={job.cancelling}>
            Cancel
          </button>
        )}
      </div>
      {running && (
        <>
          <div
            className="progress"
            role="progressbar"
            aria-label={`${job.title} progress`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={pct}
            aria-valuetext={`${pct}%`}
          >
            <div className="progress-fill" style={{ width: `${pct}%` }} />
          </div>
          <div className="job-meta" aria-live="polite">
            <span className="job-pct" data-done={job.done} data-total={job.total}>
              {pct}%
            </span>
            {job.total > 0 && (
              <span>
                {amount(job, job.done)} of {amount(job, job.total)}
              </span>
            )}
            {job.rate !== null && <span>{job.unit === 'bytes' ? `${bytes(job.rate)}/s` : `${job.rate.toFixed(1)}/s`}</span>}
            {job.etaSeconds !== null && <span>{duration(job.etaSeconds)} left</span>}
            {job.stage && <span className="muted">{job.stage}</span>}
          </div>
        </>
      )}
      {!running && job.error && <div className="error-text">{job.error}</div>}
      {job.state === 'succeeded' && summary && <div className="muted">{summary(job)}</div>}
    </div>
  );
}
