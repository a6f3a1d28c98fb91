// `uploads`: the upload queue (docs/transfers.md): what is queued in which order, live progress,
// queueing a deployment, pause / resume / cancel per transfer, and the shared rate cap. Working the
// queue itself is long work the app runs as a job.
import { z } from 'zod';
import { TRANSFER_STATES } from '../core/states.js';
import type { MethodOf } from './channels.js';
import type { TransferState } from './inventory.js';
import type { JobInfo } from './jobs.js';

const transfer = z.object({ id: z.number().int('must be a whole number').positive() }).strict();

export const uploadsRequests = {
  list: z.object({ state: z.enum(TRANSFER_STATES).optional() }).strict(),
  progress: z.object({}).strict(),
  queue: z.object({ deploymentId: z.number().int('must be a whole number').positive() }).strict(),
  pause: transfer,
  resume: transfer,
  cancel: transfer,
  /** bytes per second over all uploads; 0 = no cap */
  setRate: z.object({ bytesPerSecond: z.number().int('must be a whole number').min(0).max(10 * 1024 ** 3) }).strict(),
  /** works the queue as a job; `once`: the job ends when the queue is empty, else it waits for more until cancelled */
  run: z.object({ once: z.boolean().default(false) }).strict(),
} satisfies Record<MethodOf<'uploads'>, z.ZodTypeAny>;

export interface UploadRow {
  id: number;
  deviceId: string;
  bundleId: string;
  size: number;
  state: TransferState;
  paused: boolean;
  deployment: string | null;
  priority: number;
  dueAt: string | null;
  bytesDone: number;
  attempts: number;
  lastError: string | null;
  finishedAt: string | null;
}

export interface UploadProgress {
  id: number;
  bundleId: string;
  deviceId: string;
  done: number;
  total: number;
  /** bytes per second over the last few seconds */
  rate: number;
  etaSeconds: number | null;
}

export interface UploadStatus {
  running: UploadProgress[];
  /** bytes per second over all uploads */
  rate: number;
  /** the cap; 0 = none */
  cap: number;
}

type In<M extends keyof typeof uploadsRequests> = z.input<(typeof uploadsRequests)[M]>;

export interface UploadsApi {
  /** queued transfers in the order they will go (the business rules), then the others, newest first */
  list(req?: In<'list'>): Promise<UploadRow[]>;
  progress(req?: In<'progress'>): Promise<UploadStatus>;
  /** new transfer ids */
  queue(req: In<'queue'>): Promise<number[]>;
  pause(req: In<'pause'>): Promise<UploadRow>;
  resume(req: In<'resume'>): Promise<UploadRow>;
  cancel(req: In<'cancel'>): Promise<UploadRow>;
  setRate(req: In<'setRate'>): Promise<UploadStatus>;
  /** starts the job that works the queue (one at a time); its progress is bytes over all running uploads */
  run(req?: In<'run'>): Promise<JobInfo>;
}
