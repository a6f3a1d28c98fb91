// Every job main knows of, kept current by the event stream. On every (re)open of the stream the
// list is re-read, so a reload or a dropped stream never leaves a stale job on screen.
import { create } from 'zustand';
import type { JobInfo } from '../../../contract/index.js';
import { api, events } from '../../api/index.js';
import { errorMessage } from '../../app/resource.js';

interface JobsState {
  byId: Record<number, JobInfo>;
  error: string | null;
  /** starts following main's jobs; call once after connecting */
  follow(): () => void;
  reload(): Promise<void>;
  /** a job a service just started (the answer to its start call) */
  put(job: JobInfo): void;
  cancel(id: number): Promise<void>;
}

export const useJobs = create<JobsState>((set, get) => ({
  byId: {},
  error: null,
  follow() {
    const off = events().subscribe((e) => {
      if (e.type === 'job') get().put(e.job);
    });
    const offOpen = events().onOpen(() => void get().reload());
    return () => {
      off();
      offOpen();
    };
  },
  async reload() {
    try {
      const list = await api().jobs.list({ limit: 200 });
      set({ byId: Object.fromEntries(list.map((j) => [j.id, j])), error: null });
    } catch (err) {
      set({ error: errorMessage(err) });
    }
  },
  put(job) {
    const old = get().byId[job.id];
    // an older event arriving late must not undo the end of a job
    if (old && old.state !== 'running' && job.state === 'running') return;
    set({ byId: { ...get().byId, [job.id]: job } });
  },
  async cancel(id) {
    try {
      get().put(await api().jobs.cancel({ id }));
    } catch (err) {
      set({ error: errorMessage(err) });
    }
  },
}));

export function sortedJobs(byId: Record<number, JobInfo>): JobInfo[] {
  return Object.values(byId).sort((a, b) => (a.state === 'running') === (b.state === 'running') ? b.id - a.id : a.state === 'running' ? -1 : 1);
}
