// `hub sync`: what every device of a hub holds, read with the real azure-iothub SDK (paged twin
// queries, each call retried by hub-call.ts), then applied to the inventory in one transaction
// with one sync-history entry saying what changed and what conflicted. Module twins whose ETag is
// the one the last sync worked through are skipped (incremental). An unreachable or refusing hub
// is a failed sync entry with the reason, and nothing else changes.
import type { Registry } from 'azure-iothub';
import { parseImageName, repositoryOf } from '../../core/deployment/image-name.js';
import { parseManifest } from '../../core/deployment/manifest.js';
import { parseDeviceList } from '../inventory/import-devices.js';
import type { Inventory } from '../inventory/store.js';
import type { Notifications, NewNotification } from '../notify/notifications.js';
import { checkCancelled, type OperationControl } from '../../io/operation.js';
import type { HubConnections } from './connections.js';
import { hubCall, HubError, redact, type HubCallOptions } from './hub-call.js';
import type { HubAddress } from './registry-client.js';
import { applyReport, readReport, type ImageEvent } from './report-apply.js';

/** The module id of Lighter's edge module is free; its twin is the one reporting `lighter`. */
const MODULES_QUERY = "SELECT * FROM devices.modules WHERE IS_DEFINED(properties.reported.lighter) OR moduleId = '$edgeAgent'";
const DEVICES_QUERY = 'SELECT * FROM devices';
const PAGE = 100;

export interface SyncResult {
  hub: string;
  ok: boolean;
  syncId: number;
  summary: string;
  devices: { added: number; updated: number; unchanged: number };
  twinsRead: number;
  twinsSkipped: number;
  changes: number;
  conflicts: number;
  deploymentsReady: string[];
  notifications: number;
  error?: string;
}

interface TwinJson {
  deviceId: string;
  moduleId?: string;
  etag?: string;
  version?: number;
  properties?: { reported?: Record<string, unknown> };
}

export interface SyncOptions extends OperationControl {
  call?: Omit<HubCallOptions, 'signal'>;
}

export class HubSync {
  private running = new Map<string, Promise<SyncResult>>();

  constructor(
    private readonly inventory: Inventory,
    private readonly connections: HubConnections,
    private readonly notifications: Notifications,
  ) {}

  /** Syncs one hub; a second call for the same hub while one runs joins it (never two at once). */
  sync(name: string, ctl: SyncOptions = {}): Promise<SyncResult> {
    let p = this.running.get(name);
    if (!p) {
      p = this.run(name, ctl).finally(() => this.running.delete(name));
      this.running.set(name, p);
    }
    return p;
  }

  /** Syncs every hub, one after the other. */
  async syncAll(ctl: SyncOptions = {}): Promise<SyncResult[]> {
    const out: SyncResult[] = [];
    for (const name of this.connections.names()) out.push(await this.sync(name, ctl));
    return out;
  }

  private async fetchAll(hub: string, address: HubAddress, registry: Registry, sql: string, what: string, ctl: SyncOptions, progress: () => void): Promise<TwinJson[]> {
    const q = registry.createQuery(sql, PAGE);
    const all: TwinJson[] = [];
    while (q.hasMoreResults) {
      checkCancelled(ctl, 'hub sync');
      // A retried page asks with the same continuation token: Query keeps it until a page succeeds.
      const page = await hubCall(hub, address, what, () => q.next(), { ...ctl.call, ...(ctl.signal ? { signal: ctl.signal } : {}) });
      all.push(...((page.result as TwinJson[] | undefined) ?? []));
      progress();
    }
    return all;
  }

  private async run(name: string, ctl: SyncOptions): Promise<SyncResult> {
    const inv = this.inventory;
    let twins: TwinJson[];
    let modules: TwinJson[];
    let read = 0;
    const progress = () => ctl.onProgress?.(++read, read + 1);
    try {
      const { registry, address } = await this.connections.open(name);
      twins = await this.fetchAll(name, address, registry, DEVICES_QUERY, 'querying device twins', ctl, progress);
      modules = await this.fetchAll(name, address, registry, MODULES_QUERY, 'querying module twins', ctl, progress);
    } catch (err) {
      if (ctl.signal?.aborted) throw err;
      const reason = redact(err instanceof Error ? err.message : String(err));
      const syncId = this.record(name, false, `hub ${name}: sync failed: ${reason}`, [], []);
      this.connections.markSynced(name, false);
      throw Object.assign(err instanceof HubError ? err : new HubError(reason, 'failed'), { syncId });
    }

    const noted: number[] = [];
    const result = inv.db.transaction((): SyncResult => {
      const inputs = parseDeviceList(JSON.stringify(twins), { hub: name });
      const merged = inv.mergeDevices(inputs);
      const changes: Array<Record<string, unknown>> = [...merged.changes];
      const conflicts: Array<Record<string, unknown>> = [...merged.conflicts];
      const events: ImageEvent[] = [];
      const seen = inv.db.prepare('SELECT etag FROM hub_twins WHERE hub = ? AND device_id = ? AND module_id = ?');
      const remember = inv.db.prepare(
        `INSERT INTO hub_twins (hub, device_id, module_id, etag, version, synced_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (hub, device_id, module_id) DO UPDATE SET etag = excluded.etag, version = excluded.version, synced_at = excluded.synced_at`,
      );
      let skipped = 0;
      const known = new Set(twins.map((t) => t.deviceId));
      for (const m of modules) {
        const moduleId = m.moduleId ?? '';
        if (!known.has(m.deviceId)) continue;
        const prior = seen.get(name, m.deviceId, moduleId) as { etag: string } | undefined;
        if (m.etag && prior?.etag === m.etag) {
          skipped++;
          continue;
        }
        const reported = m.properties?.reported ?? {};
        if (moduleId === '$edgeAgent') {
          const mods = reported.modules;
          if (mods && typeof mods === 'object') {
            const running = Object.fromEntries(Object.entries(mods as Record<string, { runtimeStatus?: string; settings?: { image?: string } }>).map(([k, v]) => [k, { image: v?.settings?.image ?? null, status: v?.runtimeStatus ?? null }]));
            changes.push({ device: m.deviceId, edgeAgent: running });
          }
        } else {
          const r = readReport(reported);
          if ('error' in r) conflicts.push({ device: m.deviceId, module: moduleId, twin: `unreadable Lighter report: ${r.error}`, settled: 'ignored' });
          else {
            const outcome = applyReport(inv, m.deviceId, r.report);
            changes.push(...outcome.changes);
            conflicts.push(...outcome.conflicts);
            events.push(...outcome.events);
          }
        }
        if (m.etag) remember.run(name, m.deviceId, moduleId, m.etag, m.version ?? null, new Date().toISOString());
      }

      // Deployments whose gate this sync opened.
      const ready: Array<{ id: number; name: string; email: string }> = [];
      const open = inv.db.prepare("SELECT id, name, ordered_by_email AS email FROM deployments WHERE state IN ('planned', 'transferring') ORDER BY id").all() as Array<{ id: number; name: string; email: string }>;
      for (const d of open) {
        if (!inv.deploymentGate(d.id).ready) continue;
        inv.setDeploymentState(d.id, 'ready', `gate opened by hub sync of ${name}`);
        ready.push(d);
        changes.push({ deployment: d.name, to: 'ready' });
      }

      const summary = changes.length === 0 && conflicts.length === 0
        ? `hub ${name}: no changes (${twins.length} devices, ${skipped} module twins unchanged)`
        : `hub ${name}: ${merged.result.added.length} devices added, ${merged.result.updated.length} updated; ${changes.length} changes, ${conflicts.length} conflicts${ready.length ? `; ready: ${ready.map((d) => d.name).join(', ')}` : ''}`;
      const syncId = this.record(name, true, summary, changes, conflicts);
      for (const e of events) for (const n of this.forImageEvent(e, syncId)) noted.push(this.notifications.add(n));
      for (const d of ready) noted.push(this.notifications.add({ kind: 'deployment-ready', deploymentId: d.id, message: `deployment ${d.name} is ready: every device has every image; push its manifest from the app (Deployments, #/deployments/${d.id}) or with \`lighter hub push --deployment ${d.id}\``, syncId, mailTo: d.email }));
      this.connections.markSynced(name, true);
      return {
        hub: name,
        ok: true,
        syncId,
        summary,
        devices: { added: merged.result.added.length, updated: merged.result.updated.length, unchanged: merged.result.unchanged.length },
        twinsRead: twins.length + modules.length,
        twinsSkipped: skipped,
        changes: changes.length,
        conflicts: conflicts.length,
        deploymentsReady: ready.map((d) => d.name),
        notifications: noted.length,
      };
    })();
    this.notifications.announce(noted);
    return result;
  }

  /** One notification per open deployment of the device whose manifest has the image; else one with no mail. */
  private forImageEvent(e: ImageEvent, syncId: number): NewNotification[] {
    const n = parseImageName(e.image);
    const deps = (this.inventory.db
      .prepare("SELECT d.id, d.manifest_json, d.ordered_by_email FROM deployments d JOIN deployment_devices dd ON dd.deployment_id = d.id WHERE dd.device_id = ? AND d.state IN ('planned', 'transferring', 'ready', 'pushed') ORDER BY d.id")
      .all(e.deviceId) as Array<{ id: number; manifest_json: string; ordered_by_email: string }>).filter((d) => {
      try {
        return parseManifest(d.manifest_json).modules.some((m) => repositoryOf(m.name) === repositoryOf(n) && m.name.tag === n.tag);
      } catch {
        return false;
      }
    });
    if (deps.length === 0) return [{ kind: e.kind, deviceId: e.deviceId, image: e.image, message: e.message, syncId }];
    return deps.map((d) => ({ kind: e.kind, deviceId: e.deviceId, image: e.image, message: e.message, syncId, deploymentId: d.id, mailTo: d.ordered_by_email }));
  }

  private record(hub: string, ok: boolean, summary: string, changes: unknown[], conflicts: unknown[]): number {
    return Number(
      this.inventory.db
        .prepare('INSERT INTO sync_history (at, source, summary, changes_json, conflicts_json, hub, ok) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(new Date().toISOString(), 'iothub', summary, JSON.stringify(changes), JSON.stringify(conflicts), hub, ok ? 1 : 0).lastInsertRowid,
    );
  }
}
