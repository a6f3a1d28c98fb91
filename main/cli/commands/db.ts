// `lighter db ...` (the inventory) and `lighter plan` (what each device needs, and the bundles to build).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ImageSignature } from '../../../core/signature/types.js';
import type { PlanReport } from '../../../contract/index.js';
import { writeFileAtomic } from '../../../io/atomic-file.js';
import { imageSignature } from '../../../io/bundle/signature.js';
import { openSource } from '../../../io/image/transport.js';
import { parseDeviceList } from '../../inventory/import-devices.js';
import { defaultDbPath } from '../../inventory/location.js';
import { restoreBackup, shelveDamaged } from '../../inventory/open.js';
import { imageNameFromRef } from '../../inventory/source-ref.js';
import type { ImageRow } from '../../inventory/store.js';
import { MANIFEST_FOR_DEVICES, manifestForDevices } from '../manifest-options.js';
import { defineCommand, UsageError } from '../command.js';

const init = defineCommand({
  name: 'db init',
  summary: 'create (or migrate) the inventory database',
  details: `  Creates the inventory (default: ${defaultDbPath()}; LIGHTER_DATA_DIR overrides the directory),
  or brings an existing one to the current schema after backing it up.`,
  options: { reinit: { type: 'boolean', help: 'move a damaged database aside (FILE.damaged-<time>) and start an empty one' } },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const file = opts.db ?? defaultDbPath();
    const movedTo = opts.reinit ? await shelveDamaged(file) : null;
    const { inventory: inv } = await services({ create: true });
    inv.recordMaintenance('db-init', file);
    result({ database: file, schema: inv.schemaVersion(), movedTo }, (r) => `${r.movedTo ? `moved the old database to ${r.movedTo}\n` : ''}inventory ready at ${r.database} (schema v${r.schema})`);
  },
});

const restore = defineCommand({
  name: 'db restore',
  summary: 'replace the inventory with a backup (the current file is kept aside)',
  details: `  Checks BACKUP, moves the current database (and its -wal/-shm) to FILE.damaged-<time>, and puts a
  copy of BACKUP in its place. Backups are made before every migration (FILE.backup-v<N>-<time>).`,
  args: ['BACKUP'],
  json: true,
  inventory: true,
  async run({ args, opts, result, services }) {
    const file = opts.db ?? defaultDbPath();
    const backup = args[0]!;
    const movedTo = await restoreBackup(file, backup);
    (await services()).inventory.recordMaintenance('db-restore', file, { backup });
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
    hub: { type: 'string', value: 'NAME', help: 'the IoT Hub the devices belong to' },
    'group-tag': { type: 'string', value: 'PATH', help: 'the tag that names the group (default: group)' },
  },
  json: true,
  inventory: true,
  async run({ args, opts, result, services }) {
    const src = args[0]!;
    let text: string;
    try {
      text = readFileSync(src === '-' ? 0 : src, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${src}: ${(err as Error).message}`);
    }
    const devices = parseDeviceList(text, { groupTag: opts['group-tag'], hub: opts.hub ?? null });
    const r = (await services()).inventory.importDevices(devices, 'file', src);
    result(r, (r) => `${r.added.length} added, ${r.updated.length} updated, ${r.unchanged.length} unchanged${r.conflicts ? `, ${r.conflicts} conflicts with open deployments (see db status)` : ''}`);
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
    device: { type: 'string', value: 'ID', help: "the device that has the image; without it the image is only catalogued (e.g. a deployment's new image, so that plan can weigh bases against its signature)" },
    name: { type: 'string', value: 'NAME', help: "the image's name when REF carries none (oci: layouts, unnamed archives)" },
    'no-read': { type: 'boolean', help: 'record the name only, e.g. when the image is not at hand' },
  },
  json: true,
  inventory: true,
  async run({ args, opts, result, services }) {
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
    const { inventory: inv } = await services();
    const id = (i: ImageRow) => `${i.repository}:${i.tag}${i.config_digest ? ` (${i.config_digest})` : ''}`;
    if (!opts.device) return result({ device: null, changed: true, image: inv.catalogImage(image) }, (r) => `catalogued ${id(r.image)}`);
    const device = opts.device;
    const r = inv.recordImage(device, image);
    result({ device, changed: r.changed, image: r.image }, (r) => `${r.changed ? 'recorded' : 'already recorded'}: ${device} has ${id(r.image)}`);
  },
});

const status = defineCommand({
  name: 'db status',
  summary: 'summary of the inventory: devices, images, deployments, transfers',
  json: true,
  inventory: true,
  async run({ result, services }) {
    const { inventory: inv, database } = await services();
    result({ database, ...inv.status() }, (s) => {
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
  },
});

function describePlan(p: PlanReport): string {
  const lint = new Map(p.manifests.map((m) => [m.deviceId, m.lint]));
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
  options: {
    ...MANIFEST_FOR_DEVICES,
    'local-registry': { type: 'string', value: 'HOST:PORT', default: 'localhost:5000', help: 'the registry on the device the rewritten manifest pulls from, for devices whose inventory entry names none' },
    out: { type: 'string', value: 'DIR', help: "write each device's rewritten manifest to DIR/<device>.json" },
  },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const order = manifestForDevices(opts);
    const report = await (await services()).planning.plan({ ...order, localRegistry: opts['local-registry'] });
    if (opts.out) {
      mkdirSync(opts.out, { recursive: true });
      for (const m of report.manifests) await writeFileAtomic(join(opts.out, `${m.deviceId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), `${JSON.stringify(m.content, null, 2)}\n`);
    }
    result({ ...report, manifests: report.manifests.map(({ content: _c, ...m }) => m) }, () => describePlan(report));
  },
});

export const commands = [init, restore, importDevices, recordImage, status, planCmd];
