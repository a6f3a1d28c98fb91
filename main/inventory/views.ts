// The app's screens as read-only views of the inventory: the `inventory` namespace of the IPC
// contract. Requests arrive already parsed by the contract's schemas; single-entity lookups go
// through the store so an unknown id gets the store's specific error.
import { parseManifest } from '../../core/deployment/manifest.js';
import { DEPLOYMENT_STATES, DEVICE_IMAGE_STATES, TRANSFER_STATES } from '../../core/states.js';
import type {
  AuditEntry,
  DeploymentDetail,
  DeploymentRow,
  DeviceDetail,
  DeviceImage,
  DeviceList,
  DeviceRow,
  ImageStateCounts,
  InventoryApi,
  StatusSummary,
  SyncEntry,
  TransferDay,
  TransferRow,
} from '../../contract/index.js';
import type { DeploymentSqlRow, Inventory } from './store.js';

type Req<M extends keyof InventoryApi> = NonNullable<Parameters<InventoryApi[M]>[0]>;


// Columns named as the contract's rows name them, so that rows need no renaming on the way out.
const DEVICE_COLUMNS = `d.id, d.display_name AS displayName, d.vessel, d.site, d.device_group AS "group", d.hub, d.is_edge AS isEdge,
  d.connection_state AS connectionState, d.last_seen AS lastSeen, d.tags_json AS tagsJson,
  COALESCE(SUM(di.state = 'present'), 0) AS present, COALESCE(SUM(di.state = 'applied'), 0) AS applied,
  COALESCE(SUM(di.state = 'in_transit'), 0) AS in_transit, COALESCE(SUM(di.state = 'failed'), 0) AS failed`;

/** DEVICE_COLUMNS as SQLite returns them: a 0/1 flag, the tags as JSON and the counts flat. */
type DeviceSqlRow = Omit<DeviceRow, 'isEdge' | 'images'> & { isEdge: number; tagsJson: string } & ImageStateCounts;

const TRANSFER_COLUMNS = `id, bundle_id AS bundleId, device_id AS deviceId, channel, state, bytes_done AS bytesDone, bytes_total AS bytesTotal,
  attempts, last_error AS lastError, updated_at AS updatedAt, finished_at AS finishedAt`;

function zeroes<K extends string>(keys: readonly K[], from: Record<string, number>): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, from[k] ?? 0])) as Record<K, number>;
}

function toDevice({ isEdge, tagsJson: _tags, present, applied, in_transit, failed, ...row }: DeviceSqlRow): DeviceRow {
  return { ...row, isEdge: isEdge === 1, images: { present, applied, in_transit, failed } };
}

function countJsonArray(text: string): number {
  const v = JSON.parse(text) as unknown;
  return Array.isArray(v) ? v.length : 0;
}

export class InventoryViews implements InventoryApi {
  constructor(
    private readonly inventory: Inventory,
    /** today's date, injectable so the per-day window is testable */
    private readonly today: () => Date = () => new Date(),
  ) {}

  private get db() {
    return this.inventory.db;
  }

  async status(): Promise<StatusSummary> {
    const s = this.inventory.status();
    const last = this.db.prepare('SELECT * FROM sync_history ORDER BY id DESC LIMIT 1').get() as SyncSqlRow | undefined;
    return {
      devices: s.devices,
      edgeDevices: (this.db.prepare('SELECT COUNT(*) AS n FROM devices WHERE is_edge = 1').get() as { n: number }).n,
      groups: s.groups.filter((g) => g.group !== null).length,
      images: s.images,
      deviceImages: zeroes(DEVICE_IMAGE_STATES, s.deviceImages) as ImageStateCounts,
      deployments: zeroes(DEPLOYMENT_STATES, s.deployments),
      transfers: zeroes(TRANSFER_STATES, s.transfers),
      lastSync: last ? toSync(last) : null,
    };
  }

  async devices(req: Req<'devices'> = {}): Promise<DeviceList> {
    const rows = this.db
      .prepare(
        `SELECT ${DEVICE_COLUMNS} FROM devices d LEFT JOIN device_images di ON di.device_id = d.id
         WHERE (@group IS NULL OR d.device_group = @group) AND (@vessel IS NULL OR d.vessel = @vessel) AND (@site IS NULL OR d.site = @site)
           AND (@search IS NULL OR instr(lower(d.id), lower(@search)) > 0 OR instr(lower(COALESCE(d.display_name, '')), lower(@search)) > 0)
         GROUP BY d.id
         ORDER BY d.vessel IS NULL, d.vessel, d.site IS NULL, d.site, d.device_group IS NULL, d.device_group, d.id`,
      )
      .all({ group: req.group ?? null, vessel: req.vessel ?? null, site: req.site ?? null, search: req.search ?? null }) as DeviceSqlRow[];
    const distinct = (column: string) =>
      (this.db.prepare(`SELECT DISTINCT ${column} AS v FROM devices WHERE ${column} IS NOT NULL ORDER BY ${column}`).all() as Array<{ v: string }>).map((r) => r.v);
    return { devices: rows.map(toDevice), facets: { groups: distinct('device_group'), vessels: distinct('vessel'), sites: distinct('site') } };
  }

  async device(req: Req<'device'>): Promise<DeviceDetail> {
    this.inventory.device(req.id);
    const row = this.db
      .prepare(`SELECT ${DEVICE_COLUMNS} FROM devices d LEFT JOIN device_images di ON di.device_id = d.id WHERE d.id = ? GROUP BY d.id`)
      .get(req.id) as DeviceSqlRow;
    const imageList: DeviceImage[] = this.inventory.imagesOnDevice(req.id).map((i) => ({
      repository: i.repository,
      tag: i.tag,
      configDigest: i.config_digest,
      size: i.size,
      state: i.state,
      bundleId: i.bundle_id,
      channel: i.channel as DeviceImage['channel'],
      updatedAt: i.updated_at,
    }));
    const deployments = this.db
      .prepare(
        `SELECT dep.id, dep.name, dep.state, dd.pushed_at AS pushedAt FROM deployment_devices dd JOIN deployments dep ON dep.id = dd.deployment_id
         WHERE dd.device_id = ? ORDER BY dep.updated_at DESC`,
      )
      .all(req.id) as DeviceDetail['deployments'];
    const transfers = this.db.prepare(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE device_id = ? ORDER BY updated_at DESC, id DESC LIMIT 50`).all(req.id) as TransferRow[];
    return { ...toDevice(row), tags: JSON.parse(row.tagsJson) as Record<string, unknown>, imageList, deployments, transfers };
  }

  async deployments(req: Req<'deployments'> = {}): Promise<DeploymentRow[]> {
    const rows = this.db
      .prepare(
        `SELECT dep.*, COUNT(dd.device_id) AS devices, COALESCE(SUM(dd.pushed_at IS NOT NULL), 0) AS devices_pushed
         FROM deployments dep LEFT JOIN deployment_devices dd ON dd.deployment_id = dep.id
         WHERE (@state IS NULL OR dep.state = @state) GROUP BY dep.id ORDER BY dep.updated_at DESC, dep.id DESC`,
      )
      .all({ state: req.state ?? null }) as DeploymentCountsRow[];
    return rows.map(toDeployment);
  }

  async deployment(req: Req<'deployment'>): Promise<DeploymentDetail> {
    const gate = this.inventory.deploymentGate(req.id);
    const row = this.db
      .prepare(
        `SELECT dep.*, COUNT(dd.device_id) AS devices, COALESCE(SUM(dd.pushed_at IS NOT NULL), 0) AS devices_pushed
         FROM deployments dep LEFT JOIN deployment_devices dd ON dd.deployment_id = dep.id WHERE dep.id = ? GROUP BY dep.id`,
      )
      .get(req.id) as DeploymentCountsRow;
    const modules = parseManifest(row.manifest_json).modules;
    const needed = new Set(modules.map((m) => m.image)).size;
    const targets = this.db
      .prepare('SELECT dd.device_id, dd.pushed_at, d.display_name FROM deployment_devices dd JOIN devices d ON d.id = dd.device_id WHERE dd.deployment_id = ? ORDER BY dd.device_id')
      .all(req.id) as Array<{ device_id: string; pushed_at: string | null; display_name: string | null }>;
    return {
      ...toDeployment(row),
      images: modules.map((m) => ({ module: m.module, image: m.image })),
      targets: targets.map((t) => {
        const missing = gate.devices.find((g) => g.deviceId === t.device_id)?.missing.length ?? 0;
        return { deviceId: t.device_id, displayName: t.display_name, pushedAt: t.pushed_at, imagesNeeded: needed, imagesPresent: needed - missing };
      }),
    };
  }

  async transfers(req: Req<'transfers'> = {}): Promise<TransferRow[]> {
    return this.db
      .prepare(`SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE (@state IS NULL OR state = @state) ORDER BY updated_at DESC, id DESC LIMIT @limit`)
      .all({ state: req.state ?? null, limit: req.limit ?? 100 }) as TransferRow[];
  }

  /** The last `days` UTC days ending today, days without transfers included as zeroes. */
  async transfersPerDay(req: Req<'transfersPerDay'> = {}): Promise<TransferDay[]> {
    const days = req.days ?? 30;
    const byDay = new Map(this.inventory.transfersPerDay().map((d) => [d.day, d]));
    const end = this.today();
    const out: TransferDay[] = [];
    for (let i = days - 1; i >= 0; i--) {
      const day = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate() - i)).toISOString().slice(0, 10);
      const d = byDay.get(day);
      out.push({ day, succeeded: d?.succeeded ?? 0, failed: d?.failed ?? 0 });
    }
    return out;
  }

  async syncHistory(req: Req<'syncHistory'> = {}): Promise<SyncEntry[]> {
    return (this.db.prepare('SELECT * FROM sync_history ORDER BY id DESC LIMIT ?').all(req.limit ?? 100) as SyncSqlRow[]).map(toSync);
  }

  async auditLog(req: Req<'auditLog'> = {}): Promise<AuditEntry[]> {
    const rows = this.db
      .prepare('SELECT * FROM audit_log WHERE (@actor IS NULL OR actor = @actor) ORDER BY id DESC LIMIT @limit')
      .all({ actor: req.actor ?? null, limit: req.limit ?? 100 }) as Array<{ id: number; at: string; actor: string; action: string; target: string | null; details_json: string }>;
    return rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, details: JSON.parse(r.details_json) as Record<string, unknown> }));
  }
}

interface SyncSqlRow {
  id: number;
  at: string;
  source: SyncEntry['source'];
  summary: string;
  changes_json: string;
  conflicts_json: string;
}

function toSync(r: SyncSqlRow): SyncEntry {
  return { id: r.id, at: r.at, source: r.source, summary: r.summary, changes: countJsonArray(r.changes_json), conflicts: countJsonArray(r.conflicts_json) };
}

/** A deployments row with its device counts. */
interface DeploymentCountsRow extends DeploymentSqlRow {
  devices: number;
  devices_pushed: number;
}

function toDeployment(r: DeploymentCountsRow): DeploymentRow {
  return {
    id: r.id,
    name: r.name,
    state: r.state,
    orderedBy: { name: r.ordered_by_name, email: r.ordered_by_email },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    devices: r.devices,
    devicesPushed: r.devices_pushed,
  };
}
