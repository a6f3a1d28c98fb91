// The one place that builds the app's services and registers them as bridge handlers (like Podman
// Desktop's plugin/index.ts). The loopback bridge and the Electron shell both start here, so the
// two faces serve exactly the same contract.
// The service classes load when services are first built, not with this module: CLI commands that
// need only jobs (`patch`, `bundle apply`, `image copy`) import it too, and the whole graph (Azure
// SDKs, SQLite, nodemailer, the contract's schemas) is ~40 MB of RSS before any work.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppInfo } from '../contract/index.js';
import type { EventHub } from './bridge/events.js';
import type { Handlers } from './bridge/handlers.js';
import type { BackgroundSyncOptions } from './hub/background-sync.js';
import type { HubServices } from './hub/hub-services.js';
import type { SecretStore } from './secrets/secret-store.js';
import type { BundleStore } from './deployments/bundle-store.js';
import type { DeploymentService } from './deployments/service.js';
import { dataDir } from '../io/data-dir.js';
import { defaultDbPath } from './inventory/location.js';
import { resolveActor } from './inventory/actor.js';
import type { Inventory } from './inventory/store.js';
import { Jobs } from './jobs/service.js';
import type { OrderRule } from '../core/transfers/queue-order.js';
import type { Db } from './inventory/open.js';
import type { UploadQueue } from './transfers/upload-queue.js';
import type { UploadStore } from './transfers/upload-store.js';
import type { UploadTarget } from './transfers/upload-target.js';
import type { PlanningService } from './planning/service.js';
import type { UsbExporter } from './usb/export.js';
import type { UsbImporter } from './usb/import.js';
import type { ReceiptIntake } from './usb/receipts.js';

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

export interface CoreOptions {
  /** the inventory database; default: the app's data directory, created on first use */
  database?: string;
  /** create an explicit `database` when missing (`lighter db init`); the default one always is */
  create?: boolean;
  /** who acts, for the audit log; default $LIGHTER_USER or the login name */
  user?: string;
  /** where secrets live: the Electron shell passes its safeStorage store; default the 0600 files */
  secrets?: SecretStore;
  /** uploads: the storage container (with a connection string) and the queue order */
  container?: string;
  order?: readonly OrderRule[];
}

export interface ServiceOptions extends CoreOptions {
  /** which face serves them: the Electron shell, the loopback bridge ('cli' is a CLI command's, main/cli/command.ts) */
  shell: AppInfo['shell'];
  /** sync hubs in the background while the app runs */
  backgroundSync?: BackgroundSyncOptions | false;
  /** the desktop shell's file picker for a deployment manifest: a path, or null when closed */
  pickManifest?: () => Promise<string | null>;
}

export type { HubServices };

/** The hub services over one inventory: connections, sync, push, notifications and their mail. */
export async function buildHubServices(inventory: Inventory, options: { dataDir: string; secrets?: SecretStore; env?: NodeJS.ProcessEnv; ca?: string; background?: BackgroundSyncOptions }): Promise<HubServices> {
  const [{ FileSecretStore }, { HubConnections }, { Notifications }, { HubSync }, { Mailer }, { BackgroundSync }, { HubPush }] = await Promise.all([
    import('./secrets/file-secret-store.js'),
    import('./hub/connections.js'),
    import('./notify/notifications.js'),
    import('./hub/sync.js'),
    import('./notify/mailer.js'),
    import('./hub/background-sync.js'),
    import('./hub/push.js'),
  ]);
  const secrets = options.secrets ?? new FileSecretStore(options.dataDir);
  const connections = new HubConnections(inventory.db, secrets, { actor: inventory.actor, ...(options.env ? { env: options.env } : {}), ...(options.ca ? { ca: options.ca } : {}) });
  const notifications = new Notifications(inventory.db);
  const sync = new HubSync(inventory, connections, notifications);
  const mailer = new Mailer(inventory.db, notifications, secrets);
  // One background run: every hub, then the mail queue; a hub that failed makes the run fail (backoff).
  const background = new BackgroundSync(async (signal) => {
    const failed: string[] = [];
    for (const name of connections.names()) await sync.sync(name, { signal }).catch((err: unknown) => failed.push((err as Error).message));
    await mailer.flush({ signal });
    if (failed.length) throw new Error(failed.join('; '));
  }, options.background);
  return { connections, sync, push: new HubPush(inventory, connections, notifications), notifications, mailer, background };
}

/** Jobs for CLI commands that work on files only (no inventory): same service, no history. */
export function standaloneJobs(): Jobs {
  return new Jobs({ actor: resolveActor() });
}

/** The inventory-backed services, for the app and for CLI commands alike. */
export interface CoreServices {
  database: string;
  /** where bundles, staging and keys live: the database's directory, or the app's data directory */
  dataDir: string;
  db: Db;
  inventory: Inventory;
  bundles: BundleStore;
  jobs: Jobs;
  deployments: DeploymentService;
  planning: PlanningService;
  uploads: { store: UploadStore; queue: UploadQueue; target: UploadTarget };
  usbExport: UsbExporter;
  receipts: ReceiptIntake;
  /** IoT Hub connections, sync, push, notifications and their mail */
  hub: HubServices;
  /** cancels running jobs, waits for them, closes the inventory */
  close(): Promise<void>;
}

/** The services and the bridge's handler table over them, for the app's two faces. */
export interface Services extends CoreServices {
  info: AppInfo;
  handlers: Handlers;
  /** what main pushes to the renderer (job progress, ...) */
  events: EventHub;
}

export async function openServices(options: CoreOptions & { background?: BackgroundSyncOptions }): Promise<CoreServices> {
  const [{ openInventory }, { Inventory }, { JobHistory }, { BundleStore }, { FileSecretStore }, { DeploymentService }, { PlanningService }, { UsbExporter }, { ReceiptIntake }] = await Promise.all([
    import('./inventory/open.js'),
    import('./inventory/store.js'),
    import('./jobs/history.js'),
    import('./deployments/bundle-store.js'),
    import('./secrets/file-secret-store.js'),
    import('./deployments/service.js'),
    import('./planning/service.js'),
    import('./usb/export.js'),
    import('./usb/receipts.js'),
  ]);
  const database = options.database ?? defaultDbPath();
  const db = await openInventory(database, { create: options.create === true || options.database === undefined });
  const inventory = new Inventory(db, resolveActor(options.user));
  const dir = options.database ? dirname(database) : dataDir();
  const jobs = new Jobs({ history: new JobHistory(db), actor: inventory.actor });
  const store = await BundleStore.open(join(dir, 'bundles'));
  const secrets = options.secrets ?? new FileSecretStore(dir);
  const hub = await buildHubServices(inventory, { dataDir: dir, secrets, ...(options.background ? { background: options.background } : {}) });
  return {
    database,
    dataDir: dir,
    db,
    inventory,
    bundles: store,
    jobs,
    deployments: new DeploymentService(inventory, store, { creator: `${inventory.actor}@lighter` }),
    planning: new PlanningService(inventory),
    uploads: await uploadServices(db, inventory, store, { dataDir: dir, secrets, container: options.container, order: options.order }),
    usbExport: new UsbExporter(inventory, store),
    receipts: new ReceiptIntake(inventory, dir),
    hub,
    close: async () => {
      await hub.background.stop();
      await jobs.stopAll();
      db.close();
    },
  };
}

/** The crew laptop's side of USB: no inventory, only its data directory (staging, apply state, key). */
export async function crewImporter(dir: string = dataDir()): Promise<UsbImporter> {
  const { UsbImporter } = await import('./usb/import.js');
  return new UsbImporter(dir);
}

export async function buildServices(options: ServiceOptions): Promise<Services> {
  const core = await openServices({ ...options, ...(options.backgroundSync ? { background: options.backgroundSync } : {}) });
  const { inventory, jobs, deployments, uploads } = core;
  const pkg = appPackage();
  const info: AppInfo = { name: pkg.name, version: pkg.version, dataDir: core.dataDir, database: core.database, shell: options.shell };

  const [{ EventHub }, { Handlers }, { InventoryViews }, { DeploymentsBridge }, { ReportsService }, { JobsApiService }, { FleetService }, { HubBridge }, { UsbBridge }, { UploadsApiService }] = await Promise.all([
    import('./bridge/events.js'),
    import('./bridge/handlers.js'),
    import('./inventory/views.js'),
    import('./deployments/api.js'),
    import('./inventory/reports.js'),
    import('./jobs/api.js'),
    import('./inventory/fleet.js'),
    import('./hub/api.js'),
    import('./usb/api.js'),
    import('./transfers/api.js'),
  ]);
  const events = new EventHub();
  jobs.subscribe((job) => events.publish({ type: 'job', job }));
  core.hub.notifications.subscribe((notification) => events.publish({ type: 'notification', notification }));
  if (options.backgroundSync) core.hub.background.start();

  const views = new InventoryViews(inventory);
  const handlers = new Handlers()
    .register('app', { info: async () => info })
    .register('deployments', new DeploymentsBridge(deployments, jobs, options.pickManifest))
    .register('inventory', views)
    .register('reports', new ReportsService(inventory, views))
    .register('jobs', new JobsApiService(jobs))
    .register('fleet', new FleetService(inventory))
    .register('hub', new HubBridge(core.hub, jobs))
    .register('usb', new UsbBridge(core.usbExport, await crewImporter(core.dataDir), core.receipts, jobs))
    .register('uploads', new UploadsApiService(uploads.store, uploads.queue, jobs, inventory, uploads.target))
    .register('planning', core.planning);
  return { ...core, info, handlers, events };
}

export interface UploadOptions {
  /** the data directory: the runner lock lives there */
  dataDir: string;
  /** where the storage credential is kept */
  secrets: SecretStore;
  env?: NodeJS.ProcessEnv;
  /** the container, with a connection string */
  container?: string;
  order?: readonly OrderRule[];
}

/** The upload queue and its inventory side, over an open inventory. */
export async function uploadServices(db: Db, inventory: Inventory, bundles: BundleStore, o: UploadOptions): Promise<{ store: UploadStore; queue: UploadQueue; target: UploadTarget }> {
  const [{ UploadStore }, { UploadTarget }, { UploadQueue }] = await Promise.all([import('./transfers/upload-store.js'), import('./transfers/upload-target.js'), import('./transfers/upload-queue.js')]);
  const store = new UploadStore(db, inventory);
  const target = new UploadTarget({ env: o.env ?? process.env, secrets: o.secrets, container: o.container });
  const queue = new UploadQueue({
    inventory,
    store,
    container: (signal) => target.container(signal),
    bundlePath: (sha256) => bundles.pathOf(sha256),
    lockFile: join(o.dataDir, 'upload-runner.lock'),
    order: o.order,
  });
  return { store, queue, target };
}
