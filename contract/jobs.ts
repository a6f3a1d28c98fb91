// `jobs`: long work (sync, plan, build and verify bundles, USB export/import, upload, apply) runs as a
// job in main. A service method that starts work answers with the JobInfo at once; progress, the
// result or the error then arrive as `job` events (contract/events.ts) and through jobs.get.
import { z } from 'zod';
import type { JobState } from '../core/states.js';
import type { MethodOf } from './channels.js';

export const jobsRequests = {
  list: z
    .object({
      limit: z.number().int('must be a whole number').min(1).max(1000).default(100),
      kind: z.string().trim().min(1).max(64).optional(),
    })
    .strict(),
  get: z.object({ id: z.number().int().positive() }).strict(),
  cancel: z.object({ id: z.number().int().positive() }).strict(),
} satisfies Record<MethodOf<'jobs'>, z.ZodTypeAny>;

/** interrupted: Lighter stopped (crash, kill, power) while the job ran */
export type { JobState } from '../core/states.js';

export interface JobInfo {
  id: number;
  /** e.g. "bundle-build", "usb-export", "hub-sync" */
  kind: string;
  title: string;
  params: unknown;
  state: JobState;
  /** what the job is doing now, e.g. "diffing layers" */
  stage: string | null;
  done: number;
  total: number;
  /** what done and total count */
  unit: 'bytes' | 'items';
  /** units per second over the last few seconds; null until measured */
  rate: number | null;
  /** seconds to go at that rate; null when unknown */
  etaSeconds: number | null;
  /** the thing only one job at a time may use (a USB folder, a registry), if any */
  resource: string | null;
  actor: string;
  startedAt: string;
  finishedAt: string | null;
  /** what the job produced, when it succeeded */
  result: unknown;
  /** why it failed, was cancelled or interrupted */
  error: string | null;
  /** cancel was asked for and the job has not stopped yet */
  cancelling: boolean;
}

type In<M extends keyof typeof jobsRequests> = z.input<(typeof jobsRequests)[M]>;

export interface JobsApi {
  /** running jobs first, then the history, newest first */
  list(req?: In<'list'>): Promise<JobInfo[]>;
  get(req: In<'get'>): Promise<JobInfo>;
  /** asks a running job to stop; it answers at once, the job's own event says when it stopped */
  cancel(req: In<'cancel'>): Promise<JobInfo>;
}
