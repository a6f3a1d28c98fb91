// The inventory and planner through the CLI, as a pipeline runs them: real images built with Docker
// and saved as archives, read for their IDs and signatures, planned against a realistic manifest.
import Database from 'better-sqlite3';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDbPath } from '../main/inventory/location.js';
import { LATEST_VERSION } from '../main/inventory/migrations.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-inv-cli-'));
const dataDir = join(dir, 'data');
const env = { ...process.env, LIGHTER_DATA_DIR: dataDir, LIGHTER_USER: 'ci-bot', CI: 'true' };
const tag = randomBytes(4).toString('hex');
const repo = 'lighterinvtest/telemetry';
const v19 = `${repo}:1.9-${tag}`;
const v20 = `${repo}:2.0-${tag}`;

function query(file: string, sql: string): unknown[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}
const dump = (file: string) =>
  (query(file, "SELECT name FROM sqlite_master WHERE type = 'table'") as Array<{ name: string }>).map((t) => query(file, `SELECT * FROM ${t.name} ORDER BY rowid`));

function lighter(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/lighter.js', ...args], { env, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function ok(...args: string[]): string {
  const r = lighter(...args);
  if (r.code !== 0) throw new Error(`lighter ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  // 1.9 and 2.0: rootfs tars imported into Docker; 2.0 keeps the library and patches the binary.
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'app'), { recursive: true });
  writeFileSync(join(root, 'app', 'lib.so'), randomBytes(300_000));
  const bin = randomBytes(200_000);
  writeFileSync(join(root, 'app', 'telemetry'), bin);
  execFileSync('tar', ['-C', root, '-cf', join(dir, 'v19-rootfs.tar'), '.']);
  bin.set(randomBytes(4096), 1000);
  writeFileSync(join(root, 'app', 'telemetry'), bin);
  execFileSync('tar', ['-C', root, '-cf', join(dir, 'v20-rootfs.tar'), '.']);
  execFileSync('docker', ['import', join(dir, 'v19-rootfs.tar'), v19], { stdio: 'ignore' });
  execFileSync('docker', ['import', join(dir, 'v20-rootfs.tar'), v20], { stdio: 'ignore' });
  execFileSync('docker', ['save', '-o', join(dir, 'v19.tar'), v19]);
  execFileSync('docker', ['save', '-o', join(dir, 'v20.tar'), v20]);
  const manifest = JSON.parse(readFileSync(new URL('fixtures/manifests/fleet.json', import.meta.url), 'utf8'));
  manifest.modulesContent.$edgeAgent['properties.desired'].modules.telemetryForwarder.settings.image = v20;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(
    join(dir, 'devices.json'),
    JSON.stringify([
      { deviceId: 'ship-01', connectionState: 'Disconnected', lastActivityTime: '2026-11-20T07:31:12Z', capabilities: { iotEdge: true }, tags: { group: 'north' } },
      { deviceId: 'ship-02', connectionState: 'Connected', capabilities: { iotEdge: true }, tags: { group: 'north', localRegistry: 'localhost:5001' } },
      { deviceId: 'ship-03', connectionState: 'Connected', capabilities: { iotEdge: true }, tags: { group: 'north' } },
    ]),
  );
}, 300_000);

afterAll(() => {
  spawnSync('docker', ['rmi', v20, v19], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});

describe('lighter db and plan', () => {
  it('creates the database in the data directory on first use', () => {
    expect(defaultDbPath({ XDG_DATA_HOME: '/x/share' })).toBe('/x/share/lighter/lighter.db');
    expect(defaultDbPath({ LIGHTER_DATA_DIR: '/d', XDG_DATA_HOME: '/x' })).toBe('/d/lighter.db');
    expect(ok('db', 'init')).toContain(`inventory ready at ${join(dataDir, 'lighter.db')} (schema v${LATEST_VERSION})`);
    expect(existsSync(join(dataDir, 'lighter.db'))).toBe(true);
  });

  it('imports devices, records images read from archives, and plans the minimal bundles', () => {
    expect(ok('db', 'import-devices', join(dir, 'devices.json'))).toBe('3 added, 0 updated, 0 unchanged\n');
    const rec = ok('db', 'record-image', '--device', 'ship-01', `docker-archive:${join(dir, 'v19.tar')}`);
    const id19 = execFileSync('docker', ['inspect', '-f', '{{.Id}}', v19], { encoding: 'utf8' }).trim();
    expect(rec).toBe(`recorded: ship-01 has docker.io/lighterinvtest/telemetry:1.9-${tag} (${id19})\n`);
    ok('db', 'record-image', '--device', 'ship-02', `docker-archive:${join(dir, 'v19.tar')}`);
    ok('db', 'record-image', `docker-archive:${join(dir, 'v20.tar')}`); // catalogue the target
    // everything else the manifest needs is already on ship-01 and ship-02 (names only)
    const others = ['mcr.microsoft.com/azureiotedge-agent:1.5', 'mcr.microsoft.com/azureiotedge-hub:1.5', 'fleetacr.azurecr.io/vessel/modbus-reader:3.2.1', 'fleetacr.azurecr.io/vessel/engine-monitor:5.4', 'fleetacr.azurecr.io/lighter/edge-module:0.1.0'];
    for (const d of ['ship-01', 'ship-02']) for (const o of others) ok('db', 'record-image', '--no-read', '--device', d, `docker://${o}`);

    const out = join(dir, 'manifests');
    const plan = JSON.parse(ok('plan', '--manifest', join(dir, 'manifest.json'), '--group', 'north', '--json', '--out', out));
    const target = `docker.io/${repo}:2.0-${tag}`;
    expect(plan.bundles.map((b: { base: { ref: string } | null; target: { ref: string }; devices: string[] }) => [b.base?.ref ?? null, b.target.ref, b.devices])).toEqual([
      ...others.slice(0, 3).map((o) => [null, o, ['ship-03']]),
      [`docker.io/${repo}:1.9-${tag}`, target, ['ship-01', 'ship-02']],
      [null, target, ['ship-03']],
      ...others.slice(3).map((o) => [null, o, ['ship-03']]),
    ]);
    const [delta, full] = (plan.bundles as Array<{ estimatedBytes: number }>).slice(3);
    expect(delta!.estimatedBytes).toBeGreaterThan(0);
    expect(delta!.estimatedBytes).toBeLessThan(full!.estimatedBytes / 2); // the unchanged library is copied by reference
    expect(plan.manifests.map((m: { deviceId: string; localRegistry: string; lint: string[] }) => [m.deviceId, m.localRegistry, m.lint])).toEqual([
      ['ship-01', 'localhost:5000', []],
      ['ship-02', 'localhost:5001', []],
      ['ship-03', 'localhost:5000', []],
    ]);
    expect(readdirSync(out).sort()).toEqual(['ship-01.json', 'ship-02.json', 'ship-03.json']);
    const m2 = JSON.parse(readFileSync(join(out, 'ship-02.json'), 'utf8'));
    expect(m2.modulesContent.$edgeAgent['properties.desired'].modules.telemetryForwarder.settings.image).toBe(`localhost:5001/${repo}:2.0-${tag}`);

    const text = ok('plan', '--manifest', join(dir, 'manifest.json'), '--devices', 'ship-01,ship-03');
    expect(text).toContain(`missing    ${v20} (telemetryForwarder) <- docker.io/${repo}:1.9-${tag}, ~`);
    expect(text).toContain('bundles to build: 7');

    const status = JSON.parse(ok('db', 'status', '--json'));
    expect(status).toMatchObject({ devices: 3, images: 7, deviceImages: { present: 12 } });
    expect(query(join(dataDir, 'lighter.db'), 'SELECT DISTINCT actor FROM audit_log')).toEqual([{ actor: 'ci-bot' }]);
  });

  it('fails with one specific line on bad input, changing nothing', () => {
    const db = join(dataDir, 'lighter.db');
    const before = dump(db);
    const cases: Array<[string[], string]> = [
      [['plan', '--manifest', join(dir, 'nope.json'), '--group', 'north'], `lighter plan: cannot read manifest ${join(dir, 'nope.json')}`],
      [['plan', '--manifest', new URL('fixtures/manifests/not-json.json', import.meta.url).pathname, '--group', 'north'], 'lighter plan: manifest is not valid JSON'],
      [['plan', '--manifest', join(dir, 'manifest.json'), '--devices', 'ship-01,ghost'], 'lighter plan: unknown device "ghost"'],
      [['db', 'record-image', '--no-read', '--device', 'ghost', 'docker://a.io/b:1'], 'lighter db record-image: unknown device "ghost"'],
      [['db', 'record-image', '--device', 'ship-01', `docker-archive:${join(dir, 'missing.tar')}`], 'lighter db record-image: '],
      [['db', 'import-devices', new URL('fixtures/manifests/fleet.json', import.meta.url).pathname], 'lighter db import-devices: device list must be a JSON array'],
      [['db', 'status', '--db', join(dir, 'absent.db')], `lighter db status: no inventory database at ${join(dir, 'absent.db')}`],
    ];
    for (const [args, msg] of cases) {
      const r = lighter(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.startsWith(msg), r.stderr).toBe(true);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(lighter('plan', '--manifest', 'x').code).toBe(2); // usage: neither --devices nor --group
    expect(dump(db)).toEqual(before);
    expect(existsSync(join(dir, 'absent.db'))).toBe(false);
  });

  it('names the way out of a corrupt database, and takes it', () => {
    const db = join(dataDir, 'lighter.db');
    // a backup exists once a migration ran; make one the way a migration would
    const backup = `${db}.backup-v2-2026-11-23T00-00-00-000Z`;
    const conn = new Database(db);
    conn.prepare('VACUUM INTO ?').run(backup);
    conn.close();
    const broken = join(dir, 'broken.db');
    writeFileSync(broken, randomBytes(16384));
    const r = lighter('db', 'status', '--db', broken);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`is damaged (file is not a database); there is no backup, or start empty with \`lighter db init --db ${broken} --reinit\``);

    writeFileSync(db, randomBytes(16384));
    rmSync(`${db}-wal`, { force: true });
    rmSync(`${db}-shm`, { force: true });
    const again = lighter('db', 'status');
    expect(again.stderr).toContain(`restore a backup with \`lighter db restore --db ${db} ${backup}\``);
    expect(ok('db', 'restore', '--db', db, backup)).toMatch(/moved the current database to .*lighter\.db\.damaged-.*\nrestored /);
    expect(JSON.parse(ok('db', 'status', '--json')).devices).toBe(3);

    const healthy = lighter('db', 'init', '--reinit');
    expect(healthy.stderr).toContain('is not damaged; --reinit only replaces a damaged database');
    expect(ok('db', 'init', '--db', broken, '--reinit')).toMatch(/moved the old database to .*broken\.db\.damaged-/);
    expect(JSON.parse(ok('db', 'status', '--json', '--db', broken)).devices).toBe(0);
  });
});
