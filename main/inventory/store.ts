// The inventory service: every write is one transaction that also records who did it (audit log)
// and, for state changes, the move (state history). Reads serve the planner and the dashboards.
import type { DeploymentView, DeviceBundle } from '../../contract/index.js';
import { parseImageName, repositoryOf } from '../../core/deployment/image-name.js';
import { parseManifest } from '../../core/deployment/manifest.js';
import type { ImageSignature } from '../../core/signature/types.js';
import type { KnownImage, PlanDevice } from '../../core/plan/plan.js';
import type { Db } from './open.js';
import {
  BUNDLE_MOVES,
  checkMove,
  DEPLOYMENT_MOVES,
  DEVICE_IMAGE_MOVES,
  TRANSFER_MOVES,
  type DeploymentState,
  type DeviceImageState,
  type TransferState,
} from './states.js';

export class UnknownEntityError extends Error {
  override name = 'UnknownEntityError';
}

export interface DeviceInput {
  id: string;
  displayName: string | null;
  vessel: string | null;
  site: string | null;
  group: string | null;
  tags: Record<string, unknown>;
  hub: string | null;
  /** host[:port] of the device's own registry, when not the fleet default */
  localRegistry: string | null;
  isEdge: boolean;
  connectionState: string | null;
  lastSeen: string | null;
}

export interface DeviceRow {
  id: string;
  display_name: string | null;
  vessel: string | null;
  site: string | null;
  device_group: string | null;
  tags_json: string;
  hub: string | null;
  local_registry: string | null;
  is_edge: number;
  connection_state: string | null;
  last_seen: string | null;
}

export interface ImageInput {
  /** a Docker image name, "registry/path:tag" */
  name: string;
  configDigest?: string | null;
  size?: number | null;
  signature?: ImageSignature | null;
  /** where it was read from, in skopeo syntax */
  sourceRef?: string | null;
}

export interface ImageRow {
  id: number;
  repository: string;
  tag: string;
  config_digest: string;
  size: number | null;
  signature_json: string | null;
  source_ref: string | null;
}

/** A deployment as recorded: what the contract shows of it, and its manifest. */
export type DeploymentRecord = Omit<DeploymentView, 'gate' | 'bundles'> & { manifestJson: string };

/** A row of the deployments table. */
export interface DeploymentSqlRow {
  id: number;
  name: string;
  manifest_json: string;
  state: DeploymentState;
  ordered_by_name: string;
  ordered_by_email: string;
  priority: number;
  due_at: string | null;
  created_at: string;
  updated_at: string;
}

const now = () => new Date().toISOString();

export class Inventory {
  constructor(
    readonly db: Db,
    readonly actor: string,
  ) {}

  /** the schema version of the open database */
  schemaVersion(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  /** Records an operation on the database file itself (created, restored) in the audit log. */
  recordMaintenance(action: 'db-init' | 'db-restore', file: string, details: unknown = {}): void {
    this.audit(action, file, details);
  }

  private audit(action: string, target: string | null, details: unknown = {}): void {
    this.db.prepare('INSERT INTO audit_log (at, actor, action, target, details_json) VALUES (?, ?, ?, ?, ?)').run(now(), this.actor, action, target, JSON.stringify(details));
  }

  private history(entity: string, id: string | number, from: string | null, to: string, reason: string | null = null): void {
    this.db
      .prepare('INSERT INTO state_history (at, entity, entity_id, from_state, to_state, actor, reason) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(now(), entity, String(id), from, to, this.actor, reason);
  }

  // ---- devices ----

  device(id: string): DeviceRow {
    const row = this.db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
    if (!row) throw new UnknownEntityError(`unknown device ${JSON.stringify(id)}: not in the inventory (add it with \`lighter db import-devices\`)`);
    return row;
  }

  devicesInGroup(group: string): DeviceRow[] {
    const rows = this.db.prepare('SELECT * FROM devices WHERE device_group = ? ORDER BY id').all(group) as DeviceRow[];
    if (rows.length === 0) throw new UnknownEntityError(`no devices in group ${JSON.stringify(group)}`);
    return rows;
  }

  /** Adds or updates devices in one transaction and records the import in the sync history. */
  importDevices(devices: DeviceInput[], source: 'iothub' | 'file', label: string): { added: string[]; updated: string[]; unchanged: string[]; conflicts: number } {
    return this.db.transaction(() => {
      const { result, changes, conflicts } = this.mergeDevices(devices);
      const summary = `${label}: ${result.added.length} added, ${result.updated.length} updated, ${result.unchanged.length} unchanged${conflicts.length ? `, ${conflicts.length} conflicts` : ''}`;
      this.db
        .prepare('INSERT INTO sync_history (at, source, summary, changes_json, conflicts_json) VALUES (?, ?, ?, ?, ?)')
        .run(now(), source, summary, JSON.stringify(changes), JSON.stringify(conflicts));
      this.audit('import-devices', label, { added: result.added.length, updated: result.updated.length, conflicts: conflicts.length });
      return { ...result, conflicts: conflicts.length };
    })();
  }

  /**
   * Adds or updates devices (in the caller's transaction, with no sync-history entry: hub sync
   * writes one entry for all it learnt). Returns what changed and the conflicts: a device
   * regrouped or re-pointed while one of its deployments is open.
   */
  mergeDevices(devices: DeviceInput[]): {
    result: { added: string[]; updated: string[]; unchanged: string[] };
    changes: Array<{ device: string; added?: true; fields?: Record<string, [unknown, unknown]> }>;
    conflicts: Array<{ device: string; field: string; from: unknown; to: unknown; deployment: string }>;
  } {
    const result = { added: [] as string[], updated: [] as string[], unchanged: [] as string[] };
    const changes: Array<{ device: string; fields: Record<string, [unknown, unknown]> }> = [];
    const conflicts: Array<{ device: string; field: string; from: unknown; to: unknown; deployment: string }> = [];
    const openDeployments = this.db.prepare(
      "SELECT d.name FROM deployments d JOIN deployment_devices dd ON dd.deployment_id = d.id WHERE dd.device_id = ? AND d.state NOT IN ('pushed', 'cancelled') ORDER BY d.name",
    );
    const get = this.db.prepare('SELECT * FROM devices WHERE id = ?');
    const insert = this.db.prepare(
      `INSERT INTO devices (id, display_name, vessel, site, device_group, tags_json, hub, local_registry, is_edge, connection_state, last_seen, created_at, updated_at)
       VALUES (@id, @display_name, @vessel, @site, @device_group, @tags_json, @hub, @local_registry, @is_edge, @connection_state, @last_seen, @at, @at)`,
    );
    const update = this.db.prepare(
      `UPDATE devices SET display_name = @display_name, vessel = @vessel, site = @site, device_group = @device_group, tags_json = @tags_json,
       hub = @hub, local_registry = @local_registry, is_edge = @is_edge, connection_state = @connection_state, last_seen = @last_seen, updated_at = @at WHERE id = @id`,
    );
    for (const d of devices) {
      const row = {
        id: d.id,
        display_name: d.displayName,
        vessel: d.vessel,
        site: d.site,
        device_group: d.group,
        tags_json: JSON.stringify(d.tags),
        // A hub name from an earlier import is kept when this file does not say.
        hub: d.hub,
        local_registry: d.localRegistry,
        is_edge: d.isEdge ? 1 : 0,
        connection_state: d.connectionState,
        last_seen: d.lastSeen,
      };
      const old = get.get(d.id) as DeviceRow | undefined;
      if (!old) {
        insert.run({ ...row, at: now() });
        result.added.push(d.id);
        continue;
      }
      if (row.hub === null) row.hub = old.hub;
      const fields: Record<string, [unknown, unknown]> = {};
      for (const [k, v] of Object.entries(row)) if ((old as unknown as Record<string, unknown>)[k] !== v) fields[k] = [(old as unknown as Record<string, unknown>)[k], v];
      if (Object.keys(fields).length === 0) {
        result.unchanged.push(d.id);
        continue;
      }
      update.run({ ...row, at: now() });
      result.updated.push(d.id);
      changes.push({ device: d.id, fields });
      // A device regrouped or re-pointed while a deployment for it is open: applied, but flagged,
      // since that deployment was planned against the old values.
      for (const field of ['device_group', 'local_registry'].filter((f) => f in fields)) {
        for (const dep of openDeployments.all(d.id) as Array<{ name: string }>) {
          conflicts.push({ device: d.id, field, from: fields[field]![0], to: fields[field]![1], deployment: dep.name });
        }
      }
    }
    return { result, changes: [...result.added.map((device) => ({ device, added: true as const })), ...changes], conflicts };
  }

  // ---- images ----

  /** Finds or records an image; a digest learnt later fills in a row recorded by tag alone. */
  upsertImage(input: ImageInput): ImageRow {
    const n = parseImageName(input.name);
    const repository = repositoryOf(n);
    const tag = n.tag ?? '';
    const digest = input.configDigest ?? '';
    const find = this.db.prepare('SELECT * FROM images WHERE repository = ? AND tag = ? AND config_digest = ?');
    let row = find.get(repository, tag, digest) as ImageRow | undefined;
    if (!row && digest) {
      const untyped = find.get(repository, tag, '') as ImageRow | undefined;
      if (untyped) {
        this.db.prepare('UPDATE images SET config_digest = ? WHERE id = ?').run(digest, untyped.id);
        row = { ...untyped, config_digest: digest };
      }
    }
    if (!row && !digest) {
      row = this.db.prepare('SELECT * FROM images WHERE repository = ? AND tag = ? ORDER BY id DESC LIMIT 1').get(repository, tag) as ImageRow | undefined;
    }
    if (!row) {
      this.db
        .prepare('INSERT INTO images (repository, tag, config_digest, size, signature_json, source_ref, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(repository, tag, digest, input.size ?? null, input.signature ? JSON.stringify(input.signature) : null, input.sourceRef ?? null, now());
      return find.get(repository, tag, digest) as ImageRow;
    }
    if (input.signature || input.size != null || input.sourceRef) {
      this.db
        .prepare('UPDATE images SET signature_json = COALESCE(?, signature_json), size = COALESCE(?, size), source_ref = COALESCE(?, source_ref) WHERE id = ?')
        .run(input.signature ? JSON.stringify(input.signature) : null, input.size ?? null, input.sourceRef ?? null, row.id);
    }
    return this.db.prepare('SELECT * FROM images WHERE id = ?').get(row.id) as ImageRow;
  }

  /** Records an image (e.g. a deployment's target, with its signature) without placing it on a device. */
  catalogImage(input: ImageInput): ImageRow {
    return this.db.transaction(() => {
      const img = this.upsertImage(input);
      this.audit('image-recorded', `${img.repository}:${img.tag}`, { configDigest: img.config_digest || null, sourceRef: input.sourceRef ?? null });
      return img;
    })();
  }

  /** Moves the state of an image on a device (see DEVICE_IMAGE_MOVES). */
  setDeviceImage(
    deviceId: string,
    image: ImageInput,
    to: DeviceImageState,
    via: { bundleId?: string | null; channel?: 'usb' | 'upload' | 'registry' | 'reported' | null; reason?: string } = {},
  ): ImageRow {
    return this.db.transaction(() => {
      this.device(deviceId);
      const img = this.upsertImage(image);
      const cur = this.db.prepare('SELECT state FROM device_images WHERE device_id = ? AND image_id = ?').get(deviceId, img.id) as { state: DeviceImageState } | undefined;
      const from = cur?.state ?? null;
      const what = `image ${img.repository}:${img.tag} on device ${deviceId}`;
      checkMove(DEVICE_IMAGE_MOVES, what, from, to);
      if (via.bundleId) this.bundle(via.bundleId);
      this.db
        .prepare(
          `INSERT INTO device_images (device_id, image_id, state, bundle_id, channel, updated_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (device_id, image_id) DO UPDATE SET state = excluded.state, bundle_id = COALESCE(excluded.bundle_id, bundle_id),
           channel = COALESCE(excluded.channel, channel), updated_at = excluded.updated_at`,
        )
        .run(deviceId, img.id, to, via.bundleId ?? null, via.channel ?? null, now());
      this.history('device_image', `${deviceId}/${img.id}`, from, to, via.reason ?? null);
      this.audit('device-image', deviceId, { image: `${img.repository}:${img.tag}`, configDigest: img.config_digest || null, from, to });
      return img;
    })();
  }

  /** "This device has this image", from a report or a person: present unless it already is. */
  recordImage(deviceId: string, image: ImageInput, channel: 'registry' | 'reported' = 'reported'): { image: ImageRow; changed: boolean } {
    return this.db.transaction(() => {
      this.device(deviceId);
      const img = this.upsertImage(image);
      const cur = this.db.prepare('SELECT state FROM device_images WHERE device_id = ? AND image_id = ?').get(deviceId, img.id) as { state: string } | undefined;
      if (cur?.state === 'present') return { image: img, changed: false };
      return { image: this.setDeviceImage(deviceId, image, 'present', { channel }), changed: true };
    })();
  }

  imagesOnDevice(deviceId: string): Array<ImageRow & { state: DeviceImageState; bundle_id: string | null; channel: string | null; updated_at: string }> {
    this.device(deviceId);
    return this.db
      .prepare('SELECT i.*, di.state, di.bundle_id, di.channel, di.updated_at FROM device_images di JOIN images i ON i.id = di.image_id WHERE di.device_id = ? ORDER BY i.repository, i.tag')
      .all(deviceId) as never;
  }

  devicesWithImage(name: string, states: DeviceImageState[] = ['present', 'applied']): Array<{ device_id: string; state: string; tag: string; config_digest: string }> {
    const n = parseImageName(name);
    return this.db
      .prepare(
        `SELECT di.device_id, di.state, i.tag, i.config_digest FROM device_images di JOIN images i ON i.id = di.image_id
         WHERE i.repository = ? AND i.tag = ? AND di.state IN (${states.map(() => '?').join(', ')}) ORDER BY di.device_id`,
      )
      .all(repositoryOf(n), n.tag ?? '', ...states) as never;
  }

  // ---- what the planner needs ----

  knownImage(name: string): KnownImage | undefined {
    const n = parseImageName(name);
    const row = this.db
      .prepare("SELECT * FROM images WHERE repository = ? AND tag = ? ORDER BY (config_digest = '') ASC, (signature_json IS NULL) ASC, id DESC LIMIT 1")
      .get(repositoryOf(n), n.tag ?? '') as ImageRow | undefined;
    return row ? toKnown(row) : undefined;
  }

  planDevice(deviceId: string): PlanDevice {
    return { id: deviceId, images: this.imagesOnDevice(deviceId).map((r) => ({ image: toKnown(r), state: r.state })) };
  }

  // ---- bundles ----

  bundle(id: string): { id: string; state: string } {
    const row = this.db.prepare('SELECT id, state FROM bundles WHERE id = ?').get(id) as { id: string; state: string } | undefined;
    if (!row) throw new UnknownEntityError(`unknown bundle ${JSON.stringify(id)}`);
    return row;
  }

  recordBundle(b: { id: string; version: number; size: number; sha256: string; entries: Array<{ base: ImageInput | null; target: ImageInput }> }): void {
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO bundles (id, version, size, sha256, state, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(b.id, b.version, b.size, b.sha256, 'built', now());
      b.entries.forEach((e, i) => {
        const base = e.base ? this.upsertImage(e.base).id : null;
        this.db.prepare('INSERT INTO bundle_entries (bundle_id, position, base_image_id, target_image_id) VALUES (?, ?, ?, ?)').run(b.id, i, base, this.upsertImage(e.target).id);
      });
      this.history('bundle', b.id, null, 'built');
      this.audit('bundle-recorded', b.id, { version: b.version, size: b.size });
    })();
  }

  setBundleState(id: string, to: 'verified' | 'rejected', reason?: string): void {
    this.db.transaction(() => {
      const from = this.bundle(id).state;
      checkMove(BUNDLE_MOVES, `bundle ${id}`, from, to);
      this.db.prepare('UPDATE bundles SET state = ?, verified_at = CASE WHEN ? = \'verified\' THEN ? ELSE verified_at END WHERE id = ?').run(to, to, now(), id);
      this.history('bundle', id, from, to, reason ?? null);
      this.audit(`bundle-${to}`, id);
    })();
  }

  // ---- transfers ----

  /** `deploymentId`: the deployment the transfer serves (its priority and due date order the queue). */
  createTransfer(bundleId: string, deviceId: string, channel: 'usb' | 'upload', bytesTotal: number | null = null, deploymentId: number | null = null): number {
    return this.db.transaction(() => {
      this.bundle(bundleId);
      this.device(deviceId);
      if (deploymentId !== null) this.deploymentRow(deploymentId);
      const at = now();
      const id = Number(
        this.db
          .prepare('INSERT INTO transfers (bundle_id, device_id, channel, state, bytes_total, deployment_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
          .run(bundleId, deviceId, channel, 'queued', bytesTotal, deploymentId, at, at).lastInsertRowid,
      );
      this.history('transfer', id, null, 'queued');
      this.audit('transfer-created', String(id), { bundleId, deviceId, channel, deploymentId });
      return id;
    })();
  }

  setTransferState(id: number, to: TransferState, detail: { error?: string } = {}): void {
    this.db.transaction(() => {
      const row = this.db.prepare('SELECT state FROM transfers WHERE id = ?').get(id) as { state: TransferState } | undefined;
      if (!row) throw new UnknownEntityError(`unknown transfer ${id}`);
      checkMove(TRANSFER_MOVES, `transfer ${id}`, row.state, to);
      if (to === 'failed' && !detail.error) throw new Error(`transfer ${id}: a failure needs its error message`);
      const finished = to === 'succeeded' || to === 'failed' || to === 'cancelled' ? now() : null;
      this.db
        .prepare(
          `UPDATE transfers SET state = ?, attempts = attempts + ?, last_error = COALESCE(?, last_error), finished_at = ?, updated_at = ? WHERE id = ?`,
        )
        .run(to, to === 'running' ? 1 : 0, detail.error ?? null, finished, now(), id);
      this.history('transfer', id, row.state, to, detail.error ?? null);
      this.audit(`transfer-${to}`, String(id), detail);
    })();
  }

  transferProgress(id: number, bytesDone: number): void {
    const r = this.db.prepare("UPDATE transfers SET bytes_done = ?, updated_at = ? WHERE id = ? AND state = 'running'").run(bytesDone, now(), id);
    if (r.changes !== 1) throw new Error(`transfer ${id} is not running; progress not recorded`);
  }

  transfersPerDay(): Array<{ day: string; succeeded: number; failed: number }> {
    return this.db
      .prepare(
        `SELECT substr(finished_at, 1, 10) AS day, SUM(state = 'succeeded') AS succeeded, SUM(state = 'failed') AS failed
         FROM transfers WHERE finished_at IS NOT NULL AND state IN ('succeeded', 'failed') GROUP BY day ORDER BY day`,
      )
      .all() as never;
  }

  // ---- deployments ----

  createDeployment(d: {
    name: string;
    manifestJson: string;
    orderedBy: { name: string; email: string };
    devices: string[];
    /** higher goes first in the transfer queue; default 0 */
    priority?: number;
    /** ISO time the images are wanted on board by */
    dueAt?: string | null;
  }): number {
    parseManifest(d.manifestJson);
    if (!/^[^@\s]+@[^@\s]+$/.test(d.orderedBy.email)) throw new Error(`invalid email ${JSON.stringify(d.orderedBy.email)} for whoever ordered the deployment`);
    if (!d.orderedBy.name.trim()) throw new Error('the name of whoever ordered the deployment must not be empty');
    const priority = d.priority ?? 0;
    if (!Number.isSafeInteger(priority)) throw new Error(`priority must be a whole number, not ${priority}`);
    if (d.dueAt != null && Number.isNaN(Date.parse(d.dueAt))) throw new Error(`due date ${JSON.stringify(d.dueAt)} is not a date`);
    if (d.devices.length === 0) throw new Error('a deployment needs at least one device');
    return this.db.transaction(() => {
      for (const id of d.devices) this.device(id);
      if (this.db.prepare('SELECT 1 FROM deployments WHERE name = ?').get(d.name)) throw new Error(`a deployment named ${JSON.stringify(d.name)} exists already`);
      const at = now();
      const id = Number(
        this.db
          .prepare('INSERT INTO deployments (name, manifest_json, ordered_by_name, ordered_by_email, state, priority, due_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(d.name, d.manifestJson, d.orderedBy.name, d.orderedBy.email, 'draft', priority, d.dueAt ? new Date(d.dueAt).toISOString() : null, at, at).lastInsertRowid,
      );
      for (const dev of d.devices) this.db.prepare('INSERT INTO deployment_devices (deployment_id, device_id) VALUES (?, ?)').run(id, dev);
      this.history('deployment', id, null, 'draft');
      this.audit('deployment-created', d.name, { devices: d.devices, orderedBy: d.orderedBy, priority, dueAt: d.dueAt ?? null });
      return id;
    })();
  }

  deployment(id: number): DeploymentRecord {
    const row = this.deploymentRow(id);
    const devices = (this.db.prepare('SELECT device_id FROM deployment_devices WHERE deployment_id = ? ORDER BY device_id').all(id) as Array<{ device_id: string }>).map((r) => r.device_id);
    return {
      id: row.id,
      name: row.name,
      manifestJson: row.manifest_json,
      state: row.state,
      orderedBy: { name: row.ordered_by_name, email: row.ordered_by_email },
      priority: row.priority,
      dueAt: row.due_at,
      createdAt: row.created_at,
      devices,
    };
  }

  /** The source (skopeo syntax) an image's bytes were recorded from, by config digest or name. */
  imageSource(image: { ref: string; configDigest: string | null }): string | null {
    const n = parseImageName(image.ref);
    const row = (
      image.configDigest
        ? this.db.prepare("SELECT source_ref FROM images WHERE config_digest = ? AND source_ref IS NOT NULL ORDER BY id DESC LIMIT 1").get(image.configDigest)
        : this.db.prepare("SELECT source_ref FROM images WHERE repository = ? AND tag = ? AND source_ref IS NOT NULL ORDER BY id DESC LIMIT 1").get(repositoryOf(n), n.tag ?? '')
    ) as { source_ref: string } | undefined;
    return row?.source_ref ?? null;
  }

  /** Bundle versions rise strictly per signer: seconds since 1970, or one above the newest recorded. */
  nextBundleVersion(): number {
    const max = (this.db.prepare('SELECT MAX(version) AS v FROM bundles').get() as { v: number | null }).v ?? 0;
    return Math.max(Math.floor(Date.now() / 1000), max + 1);
  }

  /** A verified bundle already built for this (base, target) pair, so it is never built twice. */
  findBundle(baseDigest: string | null, targetDigest: string): { id: string; sha256: string; size: number; version: number } | undefined {
    return this.db
      .prepare(
        `SELECT b.id, b.sha256, b.size, b.version FROM bundles b JOIN bundle_entries e ON e.bundle_id = b.id
         JOIN images t ON t.id = e.target_image_id LEFT JOIN images s ON s.id = e.base_image_id
         WHERE b.state = 'verified' AND t.config_digest = ? AND ((? IS NULL AND e.base_image_id IS NULL) OR s.config_digest = ?)
         ORDER BY b.created_at DESC LIMIT 1`,
      )
      .get(targetDigest, baseDigest, baseDigest) as never;
  }

  /**
   * Records what a build decided: per device of the deployment, the bundles it needs in apply order.
   * Replaces an earlier build's rows; the deployment moves to planned.
   */
  planDeployment(id: number, rows: Array<{ deviceId: string; bundleId: string; target: ImageInput }>): void {
    this.db.transaction(() => {
      const dep = this.deploymentRow(id);
      this.db.prepare('DELETE FROM deployment_bundles WHERE deployment_id = ?').run(id);
      const position = new Map<string, number>();
      for (const r of rows) {
        this.bundle(r.bundleId);
        const p = position.get(r.deviceId) ?? 0;
        position.set(r.deviceId, p + 1);
        this.db
          .prepare('INSERT INTO deployment_bundles (deployment_id, device_id, bundle_id, target_image_id, position) VALUES (?, ?, ?, ?, ?)')
          .run(id, r.deviceId, r.bundleId, this.upsertImage(r.target).id, p);
      }
      if (dep.state === 'draft') {
        checkMove(DEPLOYMENT_MOVES, `deployment ${dep.name}`, dep.state, 'planned');
        this.db.prepare("UPDATE deployments SET state = 'planned', updated_at = ? WHERE id = ?").run(now(), id);
        this.history('deployment', id, dep.state, 'planned', `${rows.length} device bundles`);
      }
      this.audit('deployment-planned', dep.name, { deviceBundles: rows.length, bundles: [...new Set(rows.map((r) => r.bundleId))] });
    })();
  }

  /** Every (device, bundle) a deployment's build recorded, with the bundle and its images. */
  deploymentBundles(id: number): DeviceBundle[] {
    this.deploymentRow(id);
    const rows = this.db
      .prepare(
        `SELECT db.device_id, db.bundle_id, db.position, b.size, b.sha256, b.version, b.state AS bundle_state,
                t.repository AS t_repo, t.tag AS t_tag, t.config_digest AS t_digest,
                s.repository AS s_repo, s.tag AS s_tag, s.config_digest AS s_digest, di.state AS image_state
         FROM deployment_bundles db JOIN bundles b ON b.id = db.bundle_id JOIN images t ON t.id = db.target_image_id
         LEFT JOIN bundle_entries e ON e.bundle_id = b.id AND e.position = 0 LEFT JOIN images s ON s.id = e.base_image_id
         LEFT JOIN device_images di ON di.device_id = db.device_id AND di.image_id = db.target_image_id
         WHERE db.deployment_id = ? ORDER BY db.device_id, db.position`,
      )
      .all(id) as Array<Record<string, string | number | null>>;
    const ref = (repo: unknown, tag: unknown) => `${String(repo)}${tag ? `:${String(tag)}` : ''}`;
    return rows.map((r) => ({
      deviceId: String(r.device_id),
      bundleId: String(r.bundle_id),
      position: Number(r.position),
      size: Number(r.size),
      sha256: String(r.sha256),
      version: Number(r.version),
      target: { ref: ref(r.t_repo, r.t_tag), configDigest: String(r.t_digest) },
      base: r.s_repo ? { ref: ref(r.s_repo, r.s_tag), configDigest: (r.s_digest as string) || null } : null,
      imageState: (r.image_state as DeviceImageState | null) ?? null,
    }));
  }

  private deploymentRow(id: number): DeploymentSqlRow {
    const row = this.db.prepare('SELECT * FROM deployments WHERE id = ?').get(id) as never;
    if (!row) throw new UnknownEntityError(`unknown deployment ${id}`);
    return row;
  }

  /**
   * The manifest gate: per device of the deployment, the images its manifest needs that are not
   * confirmed there (present, or applied by a bundle). Ready only when every list is empty.
   */
  deploymentGate(id: number): DeploymentView['gate'] {
    const dep = this.deploymentRow(id);
    const manifest = parseManifest(dep.manifest_json);
    const devices = (this.db.prepare('SELECT device_id FROM deployment_devices WHERE deployment_id = ? ORDER BY device_id').all(id) as Array<{ device_id: string }>).map((r) => {
      const held = this.planDevice(r.device_id).images.filter((h) => h.state === 'present' || h.state === 'applied');
      const missing = [...new Set(manifest.modules.map((m) => m.image))].filter((image) => {
        const want = this.knownImage(image) ?? { repository: repositoryOf(parseImageName(image)), tag: parseImageName(image).tag, configDigest: null };
        return !held.some((h) =>
          h.image.configDigest && want.configDigest ? h.image.configDigest === want.configDigest : h.image.repository === want.repository && h.image.tag === want.tag,
        );
      });
      return { deviceId: r.device_id, missing };
    });
    return { ready: devices.every((d) => d.missing.length === 0), devices };
  }

  /** The engineer's priority for the deployment: its transfers go before those of lower ones. */
  setDeploymentPriority(id: number, priority: number): void {
    if (!Number.isSafeInteger(priority)) throw new Error(`priority must be a whole number, not ${priority}`);
    this.db.transaction(() => {
      const dep = this.deploymentRow(id);
      this.db.prepare('UPDATE deployments SET priority = ?, updated_at = ? WHERE id = ?').run(priority, now(), id);
      this.audit('deployment-priority', dep.name, { priority });
    })();
  }

  setDeploymentState(id: number, to: DeploymentState, reason?: string): void {
    this.db.transaction(() => {
      const dep = this.deploymentRow(id);
      checkMove(DEPLOYMENT_MOVES, `deployment ${dep.name}`, dep.state, to);
      if (to === 'ready' || to === 'pushed') {
        const gate = this.deploymentGate(id);
        if (!gate.ready) {
          const first = gate.devices.find((d) => d.missing.length > 0)!;
          throw new Error(`deployment ${dep.name} is not ready: device ${first.deviceId} does not have ${first.missing.join(', ')} yet`);
        }
      }
      this.db.prepare('UPDATE deployments SET state = ?, updated_at = ? WHERE id = ?').run(to, now(), id);
      if (to === 'pushed') this.db.prepare('UPDATE deployment_devices SET pushed_at = ? WHERE deployment_id = ?').run(now(), id);
      this.history('deployment', id, dep.state, to, reason ?? null);
      this.audit(`deployment-${to}`, dep.name);
    })();
  }

  deploymentStatus(id: number): { name: string; state: DeploymentState; orderedBy: { name: string; email: string }; gate: ReturnType<Inventory['deploymentGate']>; history: Array<{ at: string; from_state: string | null; to_state: string; actor: string }> } {
    const dep = this.deploymentRow(id);
    return {
      name: dep.name,
      state: dep.state,
      orderedBy: { name: dep.ordered_by_name, email: dep.ordered_by_email },
      gate: this.deploymentGate(id),
      history: this.db.prepare("SELECT at, from_state, to_state, actor FROM state_history WHERE entity = 'deployment' AND entity_id = ? ORDER BY id").all(String(id)) as never,
    };
  }

  deploymentsByOrderer(): Array<{ ordered_by_name: string; ordered_by_email: string; total: number; pushed: number; open: number }> {
    return this.db
      .prepare(
        `SELECT ordered_by_name, ordered_by_email, COUNT(*) AS total, SUM(state = 'pushed') AS pushed,
         SUM(state NOT IN ('pushed', 'cancelled')) AS open FROM deployments GROUP BY ordered_by_email, ordered_by_name ORDER BY ordered_by_name, ordered_by_email`,
      )
      .all() as never;
  }

  // ---- USB ----

  /**
   * Records a stick of an export set as written and read back, and moves each (device, bundle) it
   * carries: a usb transfer per pair (running while pieces are still on sticks not written yet,
   * succeeded once all are), the target image in transit on the device, the deployment transferring.
   */
  recordStickWritten(s: { setId: string; stick: number; sticks: number; deploymentId: number; bytes: number; pairs: Array<{ deviceId: string; bundleId: string; size: number; target: ImageInput; onSticks: number[] }> }): void {
    this.db.transaction(() => {
      const dep = this.deploymentRow(s.deploymentId);
      this.db
        .prepare('INSERT INTO usb_sticks (set_id, stick, sticks, deployment_id, bytes, written_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (set_id, stick) DO UPDATE SET bytes = excluded.bytes, written_at = excluded.written_at')
        .run(s.setId, s.stick, s.sticks, s.deploymentId, s.bytes, now());
      const written = new Set((this.db.prepare('SELECT stick FROM usb_sticks WHERE set_id = ?').all(s.setId) as Array<{ stick: number }>).map((r) => r.stick));
      for (const p of s.pairs) {
        let t = this.db.prepare("SELECT id, state FROM transfers WHERE usb_set = ? AND bundle_id = ? AND device_id = ? AND channel = 'usb' ORDER BY id DESC LIMIT 1").get(s.setId, p.bundleId, p.deviceId) as
          | { id: number; state: TransferState }
          | undefined;
        if (!t) {
          const id = this.createTransfer(p.bundleId, p.deviceId, 'usb', p.size, s.deploymentId);
          this.db.prepare('UPDATE transfers SET usb_set = ? WHERE id = ?').run(s.setId, id);
          this.setTransferState(id, 'running');
          t = { id, state: 'running' };
        }
        if (t.state !== 'running') continue;
        const done = p.onSticks.every((n) => written.has(n));
        this.db.prepare('UPDATE transfers SET bytes_done = ?, updated_at = ? WHERE id = ?').run(done ? p.size : 0, now(), t.id);
        if (!done) continue;
        this.setTransferState(t.id, 'succeeded');
        const img = this.upsertImage(p.target);
        const cur = this.db.prepare('SELECT state FROM device_images WHERE device_id = ? AND image_id = ?').get(p.deviceId, img.id) as { state: DeviceImageState } | undefined;
        if (!cur || cur.state === 'failed') this.setDeviceImage(p.deviceId, p.target, 'in_transit', { bundleId: p.bundleId, channel: 'usb', reason: `USB set ${s.setId}` });
      }
      if (dep.state === 'planned') this.setDeploymentState(s.deploymentId, 'transferring', 'exported to USB');
      this.audit('usb-stick-written', s.setId, { stick: s.stick, sticks: s.sticks, deployment: dep.name, bytes: s.bytes });
    })();
  }

  /** Whether this bundle ever left shore for this device on a stick. */
  exportedOverUsb(bundleId: string, deviceId: string): boolean {
    return !!this.db.prepare("SELECT 1 FROM transfers WHERE bundle_id = ? AND device_id = ? AND channel = 'usb' AND state IN ('running', 'succeeded')").get(bundleId, deviceId);
  }

  bundleIdBySha(sha: string): string | null {
    return (this.db.prepare('SELECT id FROM bundles WHERE sha256 = ?').get(sha) as { id: string } | undefined)?.id ?? null;
  }

  /** The image a bundle rebuilds (its first entry's target), as the inventory recorded it. */
  bundleTarget(bundleId: string): ImageInput {
    const row = this.db
      .prepare('SELECT i.repository, i.tag, i.config_digest FROM bundle_entries e JOIN images i ON i.id = e.target_image_id WHERE e.bundle_id = ? ORDER BY e.position LIMIT 1')
      .get(bundleId) as { repository: string; tag: string; config_digest: string } | undefined;
    if (!row) throw new UnknownEntityError(`unknown bundle ${JSON.stringify(bundleId)}`);
    return { name: `${row.repository}${row.tag ? `:${row.tag}` : ''}`, configDigest: row.config_digest || null };
  }

  /** Enrolls a public key whose receipts are believed (lighter keys trust). */
  trustKey(k: { keyId: string; publicKeyPem: string; deviceId?: string | null; label?: string | null }): { added: boolean } {
    return this.db.transaction(() => {
      if (k.deviceId) this.device(k.deviceId);
      const old = this.db.prepare('SELECT public_key_pem FROM trusted_keys WHERE key_id = ?').get(k.keyId);
      if (old) return { added: false };
      this.db
        .prepare('INSERT INTO trusted_keys (key_id, public_key_pem, device_id, label, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(k.keyId, k.publicKeyPem, k.deviceId ?? null, k.label ?? null, this.actor, now());
      this.audit('key-trusted', k.keyId, { deviceId: k.deviceId ?? null, label: k.label ?? null });
      return { added: true };
    })();
  }

  /** A receipt key shore knows: a device's (learnt from its twin) or one enrolled by a person. */
  knownReceiptKey(keyId: string): { publicKey: string; source: 'twin' | 'enrolled'; deviceId: string | null } | undefined {
    const device = this.db.prepare('SELECT device_id, public_key FROM device_keys WHERE key_id = ? ORDER BY learnt_at DESC LIMIT 1').get(keyId) as { device_id: string; public_key: string } | undefined;
    if (device) return { publicKey: device.public_key, source: 'twin', deviceId: device.device_id };
    const enrolled = this.db.prepare('SELECT public_key_pem, device_id FROM trusted_keys WHERE key_id = ?').get(keyId) as { public_key_pem: string; device_id: string | null } | undefined;
    return enrolled ? { publicKey: enrolled.public_key_pem, source: 'enrolled', deviceId: enrolled.device_id } : undefined;
  }

  receiptTaken(id: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM receipts WHERE id = ?').get(id);
  }

  /** Takes one verified receipt: the image applied (or failed, with the reason) on the device. */
  takeReceipt(r: { id: string; deviceId: string; bundleId: string; version: number | null; result: 'applied' | 'failed'; reason: string | null; message: string | null; signer: string; finishedAt: string; target: ImageInput | null }): void {
    this.db.transaction(() => {
      this.device(r.deviceId);
      this.db
        .prepare('INSERT INTO receipts (id, device_id, bundle_id, version, result, reason, signer, finished_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(r.id, r.deviceId, r.bundleId, r.version, r.result, r.reason, r.signer, r.finishedAt, now());
      const img = r.target ? this.upsertImage(r.target) : null;
      const cur = img && (this.db.prepare('SELECT state FROM device_images WHERE device_id = ? AND image_id = ?').get(r.deviceId, img.id) as { state: string } | undefined);
      // A second receipt saying the same (crew laptop and edge module both) adds no move.
      if (r.target && cur?.state !== r.result) {
        const why = r.result === 'failed' ? `${r.reason}${r.message ? `: ${r.message}` : ''}` : 'USB receipt';
        this.setDeviceImage(r.deviceId, r.target, r.result, { bundleId: r.bundleId, channel: 'usb', reason: why });
      }
      this.audit('receipt-taken', r.deviceId, { bundleId: r.bundleId, version: r.version, result: r.result, reason: r.reason });
    })();
  }

  recordSync(source: 'iothub' | 'usb-receipt' | 'file', summary: string, changes: unknown[], conflicts: unknown[]): void {
    this.db.prepare('INSERT INTO sync_history (at, source, summary, changes_json, conflicts_json) VALUES (?, ?, ?, ?, ?)').run(now(), source, summary, JSON.stringify(changes), JSON.stringify(conflicts));
  }

  // ---- overview ----

  status(): {
    devices: number;
    groups: Array<{ group: string | null; devices: number }>;
    images: number;
    deviceImages: Record<string, number>;
    bundles: number;
    deployments: Record<string, number>;
    transfers: Record<string, number>;
    lastSync: { at: string; summary: string } | null;
  } {
    const count = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    const byState = (table: string) =>
      Object.fromEntries((this.db.prepare(`SELECT state, COUNT(*) AS n FROM ${table} GROUP BY state ORDER BY state`).all() as Array<{ state: string; n: number }>).map((r) => [r.state, r.n]));
    return {
      devices: count('SELECT COUNT(*) AS n FROM devices'),
      groups: this.db.prepare('SELECT device_group AS "group", COUNT(*) AS devices FROM devices GROUP BY device_group ORDER BY device_group').all() as never,
      images: count('SELECT COUNT(*) AS n FROM images'),
      deviceImages: byState('device_images'),
      bundles: count('SELECT COUNT(*) AS n FROM bundles'),
      deployments: byState('deployments'),
      transfers: byState('transfers'),
      lastSync: (this.db.prepare('SELECT at, summary FROM sync_history ORDER BY id DESC LIMIT 1').get() as { at: string; summary: string } | undefined) ?? null,
    };
  }
}

function toKnown(r: ImageRow): KnownImage {
  return {
    repository: r.repository,
    tag: r.tag || null,
    configDigest: r.config_digest || null,
    signature: r.signature_json ? (JSON.parse(r.signature_json) as ImageSignature) : null,
  };
}
