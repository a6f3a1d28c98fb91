// `lighter db ...` (the inventory) and `lighter plan` (what each device needs, and the bundles to build).
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
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
import { UsageError, type Command } from '../command.js';

const COMMON = {
  db: { type: 'string' },
  user: { type: 'string' },
} as const;

function parse<O extends ParseArgsConfig['options']>(args: string[], options: O, positionals = 0) {
  let r;
  try {
    r = parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: positionals > 0, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (r.positionals.length !== positionals) throw new UsageError(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${r.positionals.length}`);
  return r as unknown as { values: Record<string, string | boolean | undefined>; positionals: string[] };
}

async function withInventory<T>(values: Record<string, unknown>, fn: (inv: Inventory, file: string) => Promise<T> | T, create = false): Promise<T> {
  const file = (values.db as string | undefined) ?? defaultDbPath();
  // The default location is created on first use; an explicit --db must exist unless this is init.
  const db: Db = await openInventory(file, { create: create || values.db === undefined });
  try {
    return await fn(new Inventory(db, resolveActor(values.user as string | undefined)), file);
  } finally {
    db.close();
  }
}

const out = (s: string) => process.stdout.write(`${s}\n`);

const init: Command = {
  name: 'db init',
  summary: 'create (or migrate) the inventory database',
  usage: `usage: lighter db init [--db FILE] [--reinit]
  Creates the inventory (default: ${defaultDbPath()}; LIGHTER_DATA_DIR overrides the directory),
  or brings an existing one to the current schema after backing it up.
  --reinit   move a damaged database aside (FILE.damaged-<time>) and start an empty one`,
  async run(args) {
    const { values } = parse(args, { reinit: { type: 'boolean' } });
    const file = (values.db as string | undefined) ?? defaultDbPath();
    if (values.reinit && existsSync(file)) {
      // Only a database that cannot be opened is replaced: --reinit must never shelve a good one.
      const damaged = await openInventory(file).then(
        (db) => (db.close(), false),
        (err: unknown) => err instanceof InventoryDamagedError,
      );
      if (!damaged) throw new Error(`${file} is not damaged; --reinit only replaces a damaged database (move it away yourself to start over)`);
      out(`moved the old database to ${moveAside(file)}`);
    }
    await withInventory(values, (inv) => {
      inv.db.prepare("INSERT INTO audit_log (at, actor, action, target) VALUES (?, ?, 'db-init', ?)").run(new Date().toISOString(), inv.actor, file);
      out(`inventory ready at ${file} (schema v${inv.db.pragma('user_version', { simple: true })})`);
    }, true);
  },
};

const restore: Command = {
  name: 'db restore',
  summary: 'replace the inventory with a backup (the current file is kept aside)',
  usage: `usage: lighter db restore [--db FILE] BACKUP
  Checks BACKUP, moves the current database (and its -wal/-shm) to FILE.damaged-<time>, and puts a
  copy of BACKUP in its place. Backups are made before every migration (FILE.backup-v<N>-<time>).`,
  async run(args) {
    const { values, positionals } = parse(args, {}, 1);
    const file = (values.db as string | undefined) ?? defaultDbPath();
    const backup = positionals[0]!;
    if (!existsSync(backup)) throw new Error(`backup ${backup} does not exist`);
    const src = new Database(backup, { readonly: true, fileMustExist: true });
    try {
      const check = src.pragma('integrity_check', { simple: true });
      if (check !== 'ok') throw new Error(`backup ${backup} is damaged too (${String(check)})`);
      mkdirSync(join(file, '..'), { recursive: true });
      if (existsSync(file)) out(`moved the current database to ${moveAside(file)}`);
      await backupTo(src, file);
    } catch (err) {
      if ((err as Error).message.includes('file is not a database')) throw new Error(`backup ${backup} is not a database`);
      throw err;
    } finally {
      src.close();
    }
    await withInventory({ ...values, db: file }, (inv) => {
      inv.db.prepare("INSERT INTO audit_log (at, actor, action, target, details_json) VALUES (?, ?, 'db-restore', ?, ?)").run(new Date().toISOString(), inv.actor, file, JSON.stringify({ backup }));
    });
    out(`restored ${file} from ${backup}`);
  },
};

const importDevices: Command = {
  name: 'db import-devices',
  summary: 'add or update devices from `az iot hub device-identity list` / `az iot hub query` JSON',
  usage: `usage: lighter db import-devices [--db FILE] [--hub NAME] [--group-tag PATH] [--user NAME] FILE
  FILE is the JSON array az prints ("-" reads stdin). The group comes from tags.<PATH> (default
  "group"); vessel, site, displayName and localRegistry (host:port) from tags of those names.`,
  async run(args) {
    const { values, positionals } = parse(args, { hub: { type: 'string' }, 'group-tag': { type: 'string' } }, 1);
    const src = positionals[0]!;
    let text: string;
    try {
      text = readFileSync(src === '-' ? 0 : src, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${src}: ${(err as Error).message}`);
    }
    const devices = parseDeviceList(text, { groupTag: values['group-tag'] as string | undefined, hub: (values.hub as string | undefined) ?? null });
    await withInventory(values, (inv) => {
      const r = inv.importDevices(devices, 'file', src);
      out(`${r.added.length} added, ${r.updated.length} updated, ${r.unchanged.length} unchanged${r.conflicts ? `, ${r.conflicts} conflicts with open deployments (see db status)` : ''}`);
    });
  },
};

const recordImage: Command = {
  name: 'db record-image',
  summary: 'record an image (its ID and signature read from REF), and that a device has it',
  usage: `usage: lighter db record-image [--db FILE] [--user NAME] [--device ID] [--name NAME] [--no-read] REF
  REF in skopeo syntax: docker-archive:/x.tar[:repo:tag], oci:/dir[:tag], docker-daemon:repo:tag or
  docker://host/repo:tag. The image is read to record its config digest (image ID), size and signature
  (what the planner ranks bases by).
  --device   the device that has the image; without it the image is only catalogued (e.g. a
             deployment's new image, so that plan can weigh bases against its signature)
  --no-read  record the name only, e.g. when the image is not at hand
  --name     the image's name when REF carries none (oci: layouts, unnamed archives)`,
  async run(args) {
    const { values, positionals } = parse(args, { device: { type: 'string' }, name: { type: 'string' }, 'no-read': { type: 'boolean' } }, 1);
    const ref = positionals[0]!;
    let name = (values.name as string | undefined) ?? imageNameFromRef(ref);
    let signature: ImageSignature | null = null;
    if (!values['no-read']) {
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
    await withInventory(values, (inv) => {
      const id = (i: ImageRow) => `${i.repository}:${i.tag}${i.config_digest ? ` (${i.config_digest})` : ''}`;
      if (!values.device) return out(`catalogued ${id(inv.catalogImage(image))}`);
      const r = inv.recordImage(values.device as string, image);
      out(`${r.changed ? 'recorded' : 'already recorded'}: ${values.device} has ${id(r.image)}`);
    });
  },
};

const status: Command = {
  name: 'db status',
  summary: 'summary of the inventory: devices, images, deployments, transfers',
  usage: 'usage: lighter db status [--db FILE] [--json]',
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' } });
    await withInventory(values, (inv, file) => {
      const s = inv.status();
      if (values.json) return out(JSON.stringify({ database: file, ...s }, null, 2));
      const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
      out(`database      ${file}`);
      out(`devices       ${s.devices}${s.groups.length ? ` (${s.groups.map((g) => `${g.group ?? 'no group'}: ${g.devices}`).join(', ')})` : ''}`);
      out(`images        ${s.images}; on devices: ${kv(s.deviceImages)}`);
      out(`bundles       ${s.bundles}`);
      out(`deployments   ${kv(s.deployments)}`);
      out(`transfers     ${kv(s.transfers)}`);
      out(`last sync     ${s.lastSync ? `${s.lastSync.at} ${s.lastSync.summary}` : 'never'}`);
    });
  },
};

function printPlan(p: Plan, lint: Map<string, string[]>): void {
  const bytes = (n: number | null) => (n === null ? 'size unknown' : n >= 1 << 20 ? `~${(n / (1 << 20)).toFixed(1)} MiB` : `~${Math.ceil(n / 1024)} KiB`);
  for (const d of p.devices) {
    out(`device ${d.deviceId}`);
    for (const i of d.images) {
      const what = `  ${i.status.padEnd(10)} ${i.image} (${i.modules.join(', ')})`;
      out(i.status === 'missing' ? `${what} <- ${i.base ? i.base.ref : 'full image'}, ${bytes(i.estimatedBytes)}` : what);
    }
    for (const issue of lint.get(d.deviceId) ?? []) out(`  LINT ${issue}`);
  }
  out(`bundles to build: ${p.bundles.length}`);
  for (const b of p.bundles) out(`  ${b.base ? b.base.ref : '(full image)'} -> ${b.target.ref}  ${bytes(b.estimatedBytes)}  for ${b.devices.join(', ')}`);
}

const planCmd: Command = {
  name: 'plan',
  summary: 'plan a deployment: per device the needed, present and missing images, and the bundles to build',
  usage: `usage: lighter plan [--db FILE] --manifest FILE (--devices ID,... | --group G) [--json]
                    [--local-registry HOST:PORT] [--out DIR]
  --local-registry  the registry on the device the rewritten manifest pulls from, for devices whose
                    inventory entry names none (default localhost:5000)
  --out DIR         write each device's rewritten manifest to DIR/<device>.json`,
  async run(args) {
    const { values } = parse(args, {
      manifest: { type: 'string' },
      devices: { type: 'string' },
      group: { type: 'string' },
      json: { type: 'boolean' },
      'local-registry': { type: 'string' },
      out: { type: 'string' },
    });
    if (!values.manifest) throw new UsageError('--manifest is required');
    if (!values.devices === !values.group) throw new UsageError('give exactly one of --devices and --group');
    let text: string;
    try {
      text = readFileSync(values.manifest as string, 'utf8');
    } catch (err) {
      throw new Error(`cannot read manifest ${values.manifest}: ${(err as Error).message}`);
    }
    const manifest = parseManifest(text);
    const fallbackRegistry = (values['local-registry'] as string | undefined) ?? 'localhost:5000';
    await withInventory(values, async (inv) => {
      const rows = values.group ? inv.devicesInGroup(values.group as string) : (values.devices as string).split(',').filter(Boolean).map((id) => inv.device(id));
      const p = plan({ modules: manifest.modules, devices: rows.map((d) => inv.planDevice(d.id)), lookup: (n) => inv.knownImage(formatImageName(n)) });
      const manifests = rows.map((d) => {
        const localRegistry = d.local_registry ?? fallbackRegistry;
        const rewritten = rewriteForDevice(manifest, { localRegistry });
        return { deviceId: d.id, localRegistry, content: rewritten.content, lint: lintManifest(rewritten.content).map((i) => i.message) };
      });
      if (values.out) {
        mkdirSync(values.out as string, { recursive: true });
        for (const m of manifests) await writeFileAtomic(join(values.out as string, `${m.deviceId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), `${JSON.stringify(m.content, null, 2)}\n`);
      }
      if (values.json) out(JSON.stringify({ ...p, manifests: manifests.map(({ content: _c, ...m }) => m) }, null, 2));
      else printPlan(p, new Map(manifests.map((m) => [m.deviceId, m.lint])));
    });
  },
};

export const commands: Command[] = [init, restore, importDevices, recordImage, status, planCmd];
