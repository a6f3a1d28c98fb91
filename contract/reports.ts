// `reports`: the supervisor's dashboards, aggregated in main over the inventory (read-only, offline).
import { z } from 'zod';
import type { MethodOf } from './channels.js';
import type { DeploymentState, SyncEntry, TransferDay } from './inventory.js';

export const reportsRequests = {
  dashboard: z.object({ days: z.number().int('must be a whole number').min(1).max(366).default(30) }).strict(),
} satisfies Record<MethodOf<'reports'>, z.ZodTypeAny>;

export interface DeploymentStateRow {
  id: number;
  name: string;
  state: DeploymentState;
  orderedBy: string;
  devices: number;
  devicesReady: number;
  devicesPushed: number;
  updatedAt: string;
}

export interface ImagesPerDevice {
  deviceId: string;
  displayName: string | null;
  group: string | null;
  /** present or applied */
  onBoard: number;
  inTransit: number;
  failed: number;
}

export interface DevicesPerImage {
  image: string;
  configDigest: string;
  onBoard: number;
  inTransit: number;
  failed: number;
}

export interface OrdererRow {
  name: string;
  email: string;
  total: number;
  pushed: number;
  open: number;
}

export interface SavingRow {
  /** the target image, repository:tag */
  image: string;
  transfers: number;
  /** bundle bytes of the succeeded transfers */
  bytesSent: number;
  /** what those transfers would have cost as full images */
  fullImageBytes: number;
}

export interface Dashboard {
  deployments: DeploymentStateRow[];
  imagesPerDevice: ImagesPerDevice[];
  devicesPerImage: DevicesPerImage[];
  transfersPerDay: TransferDay[];
  byOrderer: OrdererRow[];
  savings: SavingRow[];
  syncHistory: SyncEntry[];
}

type In<M extends keyof typeof reportsRequests> = z.input<(typeof reportsRequests)[M]>;

export interface ReportsApi {
  dashboard(req?: In<'dashboard'>): Promise<Dashboard>;
}
