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
  /** the deployment's priority (higher first), which places its transfers in the queue */
  setPriority: z.object({ deploymentId: z.number().int('must be a whole number').positive(), priority: z.number().int('must be a whole number').min(-1000).max(1000) }).strict(),
  target: z.object({}).strict(),
  /** a container SAS URL or an account connection string; kept in the secret store, never returned */
  setTarget: z.object({ credential: z.string().trim().min(1, 'give a container SAS URL or a connection string').max(4096), container: z.string().trim().min(1).max(63).optional() }).strict(),
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
  deploymentId: number | null;
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
  /** bytes of the bundle the service holds, of `total` */
  done: number;
  total: number;
  /** bytes per second over the last few seconds */
  rate: number;
  /** seconds left at that rate; null while there is no rate yet */
  etaSeconds: number | null;
}

export interface UploadStatus {
  running: UploadProgress[];
  /** bytes per second over all uploads */
  rate: number;
  /** the cap; 0 = none */
  cap: number;
}

/** Where uploads go; the credential itself never leaves main. */
export interface UploadTargetInfo {
  /** `environment`: a pipeline's LIGHTER_UPLOAD_SAS_URL / AZURE_STORAGE_CONNECTION_STRING, which wins over the store */
  source: 'environment' | 'secret-store' | 'none';
  kind: 'sas-url' | 'connection-string' | null;
  container: string | null;
}

type In<M extends keyof typeof uploadsRequests> = z.input<(typeof uploadsRequests)[M]>;

export interface UploadsApi {
  /** running transfers, then the queued ones in the order they will go (the business rules), then the others, newest first */
  list(req?: In<'list'>): Promise<UploadRow[]>;
  progress(req?: In<'progress'>): Promise<UploadStatus>;
  /** new transfer ids */
  queue(req: In<'queue'>): Promise<number[]>;
  pause(req: In<'pause'>): Promise<UploadRow>;
  resume(req: In<'resume'>): Promise<UploadRow>;
  cancel(req: In<'cancel'>): Promise<UploadRow>;
  setRate(req: In<'setRate'>): Promise<UploadStatus>;
  /** the queue in its new order */
  setPriority(req: In<'setPriority'>): Promise<UploadRow[]>;
  target(req?: In<'target'>): Promise<UploadTargetInfo>;
  setTarget(req: In<'setTarget'>): Promise<UploadTargetInfo>;
  /** starts the job that works the queue (one at a time); its progress is bytes over all running uploads */
  run(req?: In<'run'>): Promise<JobInfo>;
}
