// `fleet`: changes to the device list from the app (the inventory namespace only reads).
import { z } from 'zod';
import type { MethodOf } from './channels.js';

export const fleetRequests = {
  importDevices: z
    .object({
      /** the file's name, for the sync history */
      filename: z.string().trim().min(1).max(256),
      /** its text: `az iot hub device-identity list` or `az iot hub query` JSON */
      content: z.string().max(12 << 20, 'is larger than 12 MiB'),
      hub: z.string().trim().min(1).max(256).optional(),
      /** dotted path inside tags of the group, default "group" */
      groupTag: z.string().trim().min(1).max(128).optional(),
    })
    .strict(),
} satisfies Record<MethodOf<'fleet'>, z.ZodTypeAny>;

export interface ImportResult {
  added: number;
  updated: number;
  unchanged: number;
  conflicts: number;
}

type In<M extends keyof typeof fleetRequests> = z.input<(typeof fleetRequests)[M]>;

export interface FleetApi {
  importDevices(req: In<'importDevices'>): Promise<ImportResult>;
}
