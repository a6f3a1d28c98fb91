// `lighter db ...` (the inventory) and `lighter plan` (what each device needs, and the bundles to build).
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatImageName } from '../../../core/deployment/image-name.js';
import { lintManifest } from '../../../core/deployment/lint.js';
import { parseManifest } from '../../../core/deployment/manifest.js';
import { rewriteForDevice } from '../../../core/deployment/rewrite.js';
import { plan, type Plan } from '../../../core/plan/plan.js';
import { writeFileAtomic } from '../../../io/atomic-file.js';
import { imageSignature } from '../../../io/bundle/signature.js';
import { openSource } from '../../../io/image/transport.js';
import type { ImageSignature } from '../../../core/signature/types.js';
import { parseDeviceList } from '../../inventory/import-devices.js';
import { defaultDbPath } from '../../inventory/location.js';
import { backupTo, InventoryDamagedError, moveAside, openInventory, type Db } from '../../inventory/open.js';
import { imageNameFromRef } from '../../inventory/source-ref.js';
import { Inventory, resolveActor, type ImageRow } from '../../inventory/store.js';
import { defineCommand, UsageError } from '../command.js';

const INVENTORY = {
  db: { type: 'string', value: 'FILE', help: "the inventory database (default: the app's data directory)" },
  user: { type: 'string', value: 'NAME', help: 'who is acting, for the audit log (default: $LIGHTER_USER or the login name)' },
} as const;

async function withInventory<T>(values: { db?: string | undefined; user?: string | undefined }, fn: (inv: Inventory, file: string) => Promise<T> | T, create = false): Promise<T> {
  const file = values.db ?? defaultDbPath();
  // The default location is created on first use; an explicit --db must exist unless this is init.
  const db: Db = await openInventory(file, { create: create || values.db === undefined });
  try {
    return await fn(new Inventory(db, resolveActor(values.user)), file);
  } finally {
    db.close();
  }
}

const init = defineCommand({
  name: 'db init',
  summary: 'create (or migrate) the inventory database',
  details: `  Creates the inventory (default: ${defaultDbPath()}; LIGHTER_DATA_DIR overrides the directory),
  or brings an existing one to the current schema after backing it up.`,
  options: { ...INVENTORY, reinit: { type: 'boolean', help: 'move a damaged database aside (FILE.damaged-<time>) and start an empty one' } },
  json: true,
  async run({ opts, result }) {
    const file = opts.db ?? defaultDbPath();
    let movedTo: string | null = null;
    if (opts.reinit && existsSync(file)) {
      // Only a database that cannot be opened is replaced: --reinit must never shelve a good one.
      const damaged = await openInventory(file).then(
        (db) => (db.close(), false),
        (err: unknown) => err instanceof InventoryDamagedError,
      );
      if (!damaged) throw new Error(`${file} is not damaged; --reinit only replaces a damaged database (move it away yourself to start over)`);
      movedTo = moveAside(file);
    }
    await withInventory(opts, (inv) => {
      inv.db.prepare("INSERT INTO audit_log (at, actor, action, target) VALUES (?, ?, 'db-init', ?)").run(new Date().toISOString(), inv.actor, file);
      const schema = Number(inv.db.pragma('user_version', { simple: true }));
      result({ database: file, schema, movedTo }, (r) => `${r.movedTo ? `moved the old database to ${r.movedTo}\n` : ''}inventory ready at ${r.database} (schema v${r.schema})`);
    }, true);
  },
});

const restore = defineCommand({
  name: 'db restore',
  summary: 'replace the inventory with a backup (the current file is kept aside)',
  details: `  Checks BACKUP, moves the current database (and its -wal/-shm) to FILE.damaged-<time>, and puts a
  copy of BACKUP in its place. Backups are made before every migration (FILE.backup-v<N>-<time>).`,
  args: ['BACKUP'],
  options: INVENTORY,
  json: true,
  async run({ args, opts, result }) {
    const file = opts.db ?? defaultDbPath();
    const backup = args[0]!;
    let movedTo: string | null = null;
    if (!existsSync(backup)) throw new Error(`backup ${backup} does not exist`);
    const src = new Database(backup, { readonly: true, fileMustExist: true });
    try {
      const check = src.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new Error(`backup ${backup} is damaged too (${String(check)})`);
      mkdirSync(join(file, '..'), { recursive: true });
      if (existsSync(file)) movedTo = moveAside(file);
      await backupTo(src, file);
    } catch (err) {
      if ((err as Error).message.includes('file is not a database')) throw new Error(`backup ${backup} is not a database`);
      throw err;
    } finally {
      src.close();
    }
    await withInventory({ ...opts, db: file }, (inv) => {
      inv.db.prepare("INSERT INTO audit_log (at, actor, action, target, details_json) VALUES (?, ?, 'db-restore', ?, ?)").run(new Date().toISOString(), inv.actor, file, JSON.stringify({ backup }));
    });
    result({ database: file, backup, movedTo }, (r) => `${r.movedTo ? `moved the current database to ${r.movedTo}\n` : ''}restored ${r.database} from ${r.backup}`);
  },
});

const importDevices = defineCommand({
  name: 'db import-devices',
  summary: 'add or update devices from `az iot hub device-identity list` / `az iot hub query` JSON',
  details: `  FILE is the JSON array az prints ("-" reads stdin). The group comes from tags.<PATH> (default
  "group"); vessel, site, displayName and localRegistry (host:port) from tags of those names.`,
  args: ['FILE'],
  options: {
    ...INVENTORY,
    hub: { type: 'string', value: 'NAME', help: 'the IoT Hub the devices belong to' },
    'group-tag': { type: 'string', value: 'PATH', help: 'the tag that names the group (default: group)' },
  },
  json: true,
  async run({ args, opts, result }) {
    const src = args[0]!;
    let text: string;
    try {
      text = readFileSync(src === '-' ? 0 : src, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${src}: ${(err as Error).message}`);
    }
    const devices = parseDeviceList(text, { groupTag: opts['group-tag'], hub: opts.hub ?? null });
    await withInventory(opts, (inv) => {
      const r = inv.importDevices(devices, 'file', src);
      result(r, (r) => `${r.added.length} added, ${r.updated.length} updated, ${r.unchanged.length} unchanged${r.conflicts ? `, ${r.conflicts} conflicts with open deployments (see db status)` : ''}`);
    });
  },
});

const recordImage = defineCommand({
  name: 'db record-image',
  summary: 'record an image (its ID and signature read from REF), and that a device has it',
  details: `  REF in skopeo syntax: docker-archive:/x.tar[:repo:tag], oci:/dir[:tag], docker-daemon:repo:tag or
  docker://host/repo:tag. The image is read to record its config digest (image ID), size and signature
  (what the planner ranks bases by).`,
  args: ['REF'],
  options: {
    ...INVENTORY,
    device: { type: 'string', value: 'ID', help: "the device that has the image; without it the image is only catalogued (e.g. a deployment's new image, so that plan can weigh bases against its signature)" },
    name: { type: 'string', value: 'NAME', help: "the image's name when REF carries none (oci: layouts, unnamed archives)" },
    'no-read': { type: 'boolean', help: 'record the name only, e.g. when the image is not at hand' },
  },
  json: true,
  async run({ args, opts, result }) {
    const ref = args[0]!;
    let name = opts.name ?? imageNameFromRef(ref);
    let signature: ImageSignature | null = null;
    if (!opts['no-read']) {
      const source = await openSource(ref);
      try {
        signature = await imageSignature(source);
      } finally {
        await source.close();
      }
      name ??= signature.repoTags[0] ?? null;
    }
    if (!name) throw new UsageError(`${ref} names no image; give one with --name repo:tag`);
    const size = signature ? signature.layers.reduce((n, l) => n + l.size, 0) : null;
    const image = { name, configDigest: signature?.configDigest ?? null, size, signature, sourceRef: ref };
    await withInventory(opts, (inv) => {
      const id = (i: ImageRow) => `${i.repository}:${i.tag}${i.config_digest ? ` (${i.config_digest})` : ''}`;
      if (!opts.device) return result({ device: null, changed: true, image: inv.catalogImage(image) }, (r) => `catalogued ${id(r.image)}`);
      const device = opts.device;
      const r = inv.recordImage(device, image);
      result({ device, changed: r.changed, image: r.image }, (r) => `${r.changed ? 'recorded' : 'already recorded'}: ${device} has ${id(r.image)}`);
    });
  },
});

const status = defineCommand({
  name: 'db status',
  summary: 'summary of the inventory: devices, images, deployments, transfers',
  options: INVENTORY,
  json: true,
  async run({ opts, result }) {
    await withInventory(opts, (inv, file) => {
      result({ database: file, ...inv.status() }, (s) => {
        const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
        return [
          `database      ${s.database}`,
          `devices       ${s.devices}${s.groups.length ? ` (${s.groups.map((g) => `${g.group ?? 'no group'}: ${g.devices}`).join(', ')})` : ''}`,
          `images        ${s.images}; on devices: ${kv(s.deviceImages)}`,
          `bundles       ${s.bundles}`,
          `deployments   ${kv(s.deployments)}`,
          `transfers     ${kv(s.transfers)}`,
          `last sync     ${s.lastSync ? `${s.lastSync.at} ${s.lastSync.summary}` : 'never'}`,
        ].join('\n');
      });
    });
  },
});

function describePlan(p: Plan, lint: Map<string, string[]>): string {
  const bytes = (n: number | null) => (n === null ? 'size unknown' : n >= 1 << 20 ? `~${(n / (1 << 20)).toFixed(1)} MiB` : `~${Math.ceil(n / 1024)} KiB`);
  const lines: string[] = [];
  for (const d of p.devices) {
    lines.push(`device ${d.deviceId}`);
    for (const i of d.images) {
      const what = `  ${i.status.padEnd(10)} ${i.image} (${i.modules.join(', ')})`;
      lines.push(i.status === 'missing' ? `${what} <- ${i.base ? i.base.ref : 'full image'}, ${bytes(i.estimatedBytes)}` : what);
    }
    for (const issue of lint.get(d.deviceId) ?? []) lines.push(`  LINT ${issue}`);
  }
  lines.push(`bundles to build: ${p.bundles.length}`);
  for (const b of p.bundles) lines.push(`  ${b.base ? b.base.ref : '(full image)'} -> ${b.target.ref}  ${bytes(b.estimatedBytes)}  for ${b.devices.join(', ')}`);
  return lines.join('\n');
}

const planCmd = defineCommand({
  name: 'plan',
  summary: 'plan a deployment: per device the needed, present and missing images, and the bundles to build',
  details: '  Give exactly one of --devices and --group.',
  options: {
    ...INVENTORY,
    manifest: { type: 'string', value: 'FILE', required: true, help: 'the deployment manifest' },
    devices: { type: 'string', value: 'ID,...', help: 'the devices to plan for' },
    group: { type: 'string', value: 'G', help: 'plan for every device in this group' },
    'local-registry': { type: 'string', value: 'HOST:PORT', default: 'localhost:5000', help: 'the registry on the device the rewritten manifest pulls from, for devices whose inventory entry names none' },
    out: { type: 'string', value: 'DIR', help: "write each device's rewritten manifest to DIR/<device>.json" },
  },
  json: true,
  async run({ opts, result }) {
    if (!opts.devices === !opts.group) throw new UsageError('give exactly one of --devices and --group');
    let text: string;
    try {
      text = readFileSync(opts.manifest, 'utf8');
    } catch (err) {
      throw new Error(`cannot read manifest ${opts.manifest}: ${(err as Error).message}`);
    }
    const manifest = parseManifest(text);
    const fallbackRegistry = opts['local-registry'];
    await withInventory(opts, async (inv) => {
      const rows = opts.group ? inv.devicesInGroup(opts.group) : (opts.devices ?? '').split(',').filter(Boolean).map((id) => inv.device(id));
      const p = plan({ modules: manifest.modules, devices: rows.map((d) => inv.planDevice(d.id)), lookup: (n) => inv.knownImage(formatImageName(n)) });
      const manifests = rows.map((d) => {
        const localRegistry = d.local_registry ?? fallbackRegistry;
        const rewritten = rewriteForDevice(manifest, { localRegistry });
        return { deviceId: d.id, localRegistry, content: rewritten.content, lint: lintManifest(rewritten.content).map((i) => i.message) };
      });
      if (opts.out) {
        mkdirSync(opts.out, { recursive: true });
        for (const m of manifests) await writeFileAtomic(join(opts.out, `${m.deviceId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), `${JSON.stringify(m.content, null, 2)}\n`);
      }
      result({ ...p, manifests: manifests.map(({ content: _c, ...m }) => m) }, (r) => describePlan(p, new Map(r.manifests.map((m) => [m.deviceId, m.lint]))));
    });
  },
});

export const commands = [init, restore, importDevices, recordImage, status, planCmd];
