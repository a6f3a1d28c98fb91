// The IPC contract: one interface per bridge namespace, shared by main (which parses every request
// with REQUESTS before a service sees it), the preload and the renderer. The renderer and preload
// import channels.js and types only, so zod stays out of their bundles.
import type { z } from 'zod';
import { appRequests, type AppApi } from './app.js';
import type { MethodOf, Namespace } from './channels.js';
import { deploymentsRequests, type DeploymentsApi } from './deployments.js';
import { usbRequests, type UsbApi } from './usb.js';
import { fleetRequests, type FleetApi } from './fleet.js';
import { hubRequests, type HubApi } from './hub.js';
import { inventoryRequests, type InventoryApi } from './inventory.js';
import { jobsRequests, type JobsApi } from './jobs.js';
import { reportsRequests, type ReportsApi } from './reports.js';
import { uploadsRequests, type UploadsApi } from './uploads.js';
import { planningRequests, type PlanningApi } from './planning.js';

export * from './channels.js';
export * from './events.js';
export type * from './app.js';
export type * from './deployments.js';
export type * from './usb.js';
export type * from './inventory.js';
export type * from './jobs.js';
export type * from './fleet.js';
export type * from './hub.js';
export type * from './reports.js';
export type * from './uploads.js';
export type * from './planning.js';
export { usbRequests };
export { appRequests, deploymentsRequests, fleetRequests, hubRequests, inventoryRequests, jobsRequests, planningRequests, reportsRequests, uploadsRequests };

export interface LighterApi {
  app: AppApi;
  deployments: DeploymentsApi;
  usb: UsbApi;
  inventory: InventoryApi;
  jobs: JobsApi;
  fleet: FleetApi;
  hub: HubApi;
  reports: ReportsApi;
  uploads: UploadsApi;
  planning: PlanningApi;
}

export const REQUESTS: { [N in Namespace]: Record<MethodOf<N>, z.ZodTypeAny> } = {
  app: appRequests,
  deployments: deploymentsRequests,
  usb: usbRequests,
  inventory: inventoryRequests,
  jobs: jobsRequests,
  fleet: fleetRequests,
  hub: hubRequests,
  reports: reportsRequests,
  uploads: uploadsRequests,
  planning: planningRequests,
};

// Compile-time check that every interface has exactly the methods METHODS lists.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const METHODS_MATCH_INTERFACES: { [N in Namespace]: Same<keyof LighterApi[N], MethodOf<N>> } = { app: true, deployments: true, usb: true, inventory: true, jobs: true, fleet: true, hub: true, reports: true, uploads: true, planning: true };
