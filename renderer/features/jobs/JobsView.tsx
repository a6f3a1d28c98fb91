// Jobs: what is running now (live progress, cancel) and every job Lighter ran, with its outcome.
import type { JobInfo } from '../../../contract/index.js';
import { DataTable, type Column } from '../../ui/DataTable.js';
import { timestamp } from '../../ui/format.js';
import { Badge, ErrorBanner, Section } from '../../ui/parts.js';
import { JobProgress } from './JobProgress.js';
import { sortedJobs, useJobs } from './store.js';

const COLUMNS: Array<Column<JobInfo>> = [
  { key: 'id', label: 'Job', value: (j) => j.id, numeric: true },
  { key: 'kind', label: 'Kind', value: (j) => j.kind },
  { key: 'title', label: 'Title', value: (j) => j.title },
  { key: 'state', label: 'State', value: (j) => j.state, render: (j) => <Badge state={j.state} /> },
  { key: 'actor', label: 'By', value: (j) => j.actor },
  { key: 'started', label: 'Started', value: (j) => timestamp(j.startedAt) },
  { key: 'finished', label: 'Finished', value: (j) => (j.finishedAt ? timestamp(j.finishedAt) : null) },
  { key: 'error', label: 'Error', value: (j) => j.error },
];

export function JobsView() {
  const { byId, error } = useJobs();
  const all = sortedJobs(byId);
  const running = all.filter((j) => j.state === 'running');
  return (
    <div className="page">
      <ErrorBanner error={error} />
      <Section title="Running">
        {running.length === 0 ? <div className="empty-inline muted">No job is running.</div> : running.map((j) => <JobProgress key={j.id} job={j} />)}
      </Section>
      <Section title="All jobs">
        <DataTable name="jobs" caption="jobs" rows={all} columns={COLUMNS} rowKey={(j) => String(j.id)} empty="No job has run yet." />
      </Section>
    </div>
  );
}
