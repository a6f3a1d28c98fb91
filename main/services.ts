// The one place that builds the app's services and registers them as bridge handlers (like Podman
// Desktop's plugin/index.ts). The loopback bridge and the Electron shell both start here, so the
// two faces serve exactly the same contract.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppInfo } from '../contract/index.js';
import { EventHub } from './bridge/events.js';
import { Handlers } from './bridge/handlers.js';
import { DeploymentsBridge } from './deployments/api.js';
import { BundleStore } from './deployments/bundle-store.js';
import { DeploymentService } from './deployments/service.js';
import { dataDir, defaultDbPath } from './inventory/location.js';
import { openInventory } from './inventory/open.js';
import { Inventory, resolveActor } from './inventory/store.js';
import { FleetService } from './inventory/fleet.js';
import { InventoryViews } from './inventory/views.js';
import { JobsApiService } from './jobs/api.js';
import { JobHistory } from './jobs/history.js';
import { Jobs } from './jobs/service.js';

/** The repository (or packaged app) root: the nearest folder above this module with package.json. */
export function appRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find Lighter's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

/** Where the built renderer lives (renderer/dist, made by `npm run build`). */
export function rendererDir(): string {
  return join(appRoot(), 'renderer', 'dist');
}

function appPackage(): { name: string; version: string } {
  return JSON.parse(readFileSync(join(appRoot(), 'package.json'), 'utf8')) as { name: string; version: string };
}

/** package.json's version: what `lighter --version` and the app's About say. */
export function appVersion(): string {
  return appPackage().version;
}

export interface ServiceOptions {
  /** the inventory database; default: the app's data directory, created on first use */
  database?: string;
  shell: AppInfo['shell'];
}

export interface Services {
  handlers: Handlers;
  /** what main pushes to the renderer (job progress, ...) */
  events: EventHub;
  jobs: Jobs;
  /** cancels running jobs, waits for them, closes the inventory */
  close(): Promise<void>;
}

/** Jobs for CLI commands that work on files only (no inventory): same service, no history. */
export function standaloneJobs(): Jobs {
  return new Jobs({ actor: resolveActor() });
}

export async function buildServices(options: ServiceOptions): Promise<Services> {
  const database = options.database ?? defaultDbPath();
  const db = await openInventory(database, { create: options.database === undefined });
  const inventory = new Inventory(db, resolveActor());
  const pkg = appPackage();
  const info: AppInfo = { name: pkg.name, version: pkg.version, dataDir: options.database ? dirname(database) : dataDir(), database, shell: options.shell };

  const events = new EventHub();
  const jobs = new Jobs({ history: new JobHistory(db), actor: inventory.actor });
  jobs.subscribe((job) => events.publish({ type: 'job', job }));

  const deployments = new DeploymentService(inventory, await BundleStore.open(join(info.dataDir, 'bundles')), { creator: `${inventory.actor}@lighter` });

  const handlers = new Handlers()
    .register('app', { info: async () => info })
    .register('deployments', new DeploymentsBridge(deployments))
    .register('inventory', new InventoryViews(inventory))
    .register('jobs', new JobsApiService(jobs))
    .register('fleet', new FleetService(inventory));
  return {
    handlers,
    events,
    jobs,
    close: async () => {
      await jobs.stopAll();
      db.close();
    },
  };
}
