// `inventory`: read-only views of the SQLite inventory for the fleet, deployment, transfer and
// history screens. Every request is parsed in main with these schemas before it reaches a service.
import { z } from 'zod';
import type { DeploymentState, DeviceImageState, TransferState } from '../core/states.js';
import { DEPLOYMENT_STATES, TRANSFER_STATES } from '../core/states.js';
import type { MethodOf } from './channels.js';

const id = z.string().trim().min(1, 'must not be empty').max(256, 'is longer than 256 characters');
const filter = z.string().trim().min(1, 'must not be empty').max(256, 'is longer than 256 characters').optional();
const limit = z.number().int('must be a whole number').min(1).max(1000).default(100);

export const inventoryRequests = {
  status: z.object({}).strict(),
  devices: z
    .object({
      group: filter,
      vessel: filter,
      site: filter,
      /** substring of the device id or display name */
      search: filter,
    })
    .strict(),
  device: z.object({ id }).strict(),
  deployments: z.object({ state: z.enum(DEPLOYMENT_STATES).optional() }).strict(),
  deployment: z.object({ id: z.number().int().positive() }).strict(),
  transfers: z.object({ state: z.enum(TRANSFER_STATES).optional(), limit }).strict(),
  transfersPerDay: z.object({ days: z.number().int('must be a whole number').min(1).max(366).default(30) }).strict(),
  syncHistory: z.object({ limit }).strict(),
  auditLog: z.object({ limit, actor: filter }).strict(),
} satisfies Record<MethodOf<'inventory'>, z.ZodTypeAny>;

export type { DeploymentState, DeviceImageState, TransferState } from '../core/states.js';
export type Channel = 'usb' | 'upload' | 'registry' | 'reported';

export type ImageStateCounts = Record<DeviceImageState, number>;

export interface StatusSummary {
  devices: number;
  edgeDevices: number;
  groups: number;
  images: number;
  deviceImages: ImageStateCounts;
  deployments: Record<DeploymentState, number>;
  transfers: Record<TransferState, number>;
  lastSync: SyncEntry | null;
}

export interface DeviceRow {
  id: string;
  displayName: string | null;
  vessel: string | null;
  site: string | null;
  group: string | null;
  hub: string | null;
  isEdge: boolean;
  connectionState: string | null;
  lastSeen: string | null;
  images: ImageStateCounts;
}

export interface DeviceList {
  devices: DeviceRow[];
  /** every value present in the whole fleet, for the filter menus */
  facets: { groups: string[]; vessels: string[]; sites: string[] };
}

export interface DeviceImage {
  repository: string;
  tag: string;
  configDigest: string;
  size: number | null;
  state: DeviceImageState;
  bundleId: string | null;
  channel: Channel | null;
  updatedAt: string;
}

export interface DeviceDetail extends DeviceRow {
  tags: Record<string, unknown>;
  images: ImageStateCounts;
  imageList: DeviceImage[];
  deployments: Array<{ id: number; name: string; state: DeploymentState; pushedAt: string | null }>;
  transfers: TransferRow[];
}

export interface DeploymentRow {
  id: number;
  name: string;
  state: DeploymentState;
  orderedBy: { name: string; email: string };
  createdAt: string;
  updatedAt: string;
  devices: number;
  devicesPushed: number;
}

export interface DeploymentDetail extends DeploymentRow {
  /** module name -> image reference, from the deployment manifest */
  images: Array<{ module: string; image: string }>;
  targets: Array<{ deviceId: string; displayName: string | null; pushedAt: string | null; imagesPresent: number; imagesNeeded: number }>;
}

export interface TransferRow {
  id: number;
  bundleId: string;
  deviceId: string;
  channel: 'usb' | 'upload';
  state: TransferState;
  bytesDone: number;
  bytesTotal: number | null;
  attempts: number;
  lastError: string | null;
  updatedAt: string;
  finishedAt: string | null;
}

export interface TransferDay {
  /** YYYY-MM-DD, UTC */
  day: string;
  succeeded: number;
  failed: number;
}

export interface SyncEntry {
  id: number;
  at: string;
  source: 'iothub' | 'usb-receipt' | 'file';
  summary: string;
  changes: number;
  conflicts: number;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

type In<M extends keyof typeof inventoryRequests> = z.input<(typeof inventoryRequests)[M]>;

export interface InventoryApi {
  status(req?: In<'status'>): Promise<StatusSummary>;
  devices(req?: In<'devices'>): Promise<DeviceList>;
  device(req: In<'device'>): Promise<DeviceDetail>;
  deployments(req?: In<'deployments'>): Promise<DeploymentRow[]>;
  deployment(req: In<'deployment'>): Promise<DeploymentDetail>;
  transfers(req?: In<'transfers'>): Promise<TransferRow[]>;
  transfersPerDay(req?: In<'transfersPerDay'>): Promise<TransferDay[]>;
  syncHistory(req?: In<'syncHistory'>): Promise<SyncEntry[]>;
  auditLog(req?: In<'auditLog'>): Promise<AuditEntry[]>;
}
