// "Sync now": syncs every connected hub as one job, from the hub view and from a deployment's
// gate (whose missing list only changes when the devices' reports come in).
import type { Ref } from 'react';
import type { JobInfo } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { JobButton } from '../jobs/JobButton.js';
import { sortedJobs, useJobs } from '../jobs/store.js';

/** The newest hub-sync job (running ones first), whichever view started it. */
export function useHubSync(): JobInfo | undefined {
  const byId = useJobs((s) => s.byId);
  return sortedJobs(byId).find((j) => j.kind === 'hub-sync');
}

/** A finished sync's line: each hub's summary (devices added, changes, conflicts, deployments now ready). */
export function syncSummary(job: JobInfo): string | null {
  const results = job.result as Array<{ summary?: string }> | null;
  if (!Array.isArray(results)) return null;
  return results.length ? results.map((r) => r.summary).join('; ') : 'No hub connected.';
}

export function SyncNow({ hubs, ref }: { /** hubs connected; none: the button is off */ hubs: number; ref?: Ref<HTMLButtonElement> }) {
  const running = useHubSync()?.state === 'running';
  return (
    <JobButton ref={ref} start={() => api().hub.sync({})} disabled={hubs === 0} busy={running} title={hubs === 0 ? 'Connect a hub first (Hub & notifications)' : 'Read every device twin of every connected hub'}>
      {running ? 'Syncing…' : 'Sync now'}
    </JobButton>
  );
}
