// Every schema version a user may hold (test/fixtures/schema-history/vN.sql + vN-seed.sql) is
// built as shipped, then opened by the current code: it must migrate to the latest version, back up
// the old file first, and keep the data readable through today's API.
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LATEST_VERSION } from '../main/inventory/migrations.js';
import { InventoryDamagedError, listBackups, openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';

const HISTORY = new URL('fixtures/schema-history/', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'lighter-inv-mig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const historic = readdirSync(HISTORY)
  .map((f) => /^v(\d+)\.sql$/.exec(f)?.[1])
  .filter((v): v is string => v !== undefined)
  .map(Number)
  .sort((a, b) => a - b);

function schemaOf(db: Database.Database): string[] {
  return (db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as Array<{ type: string; name: string; sql: string }>).map(
    (r) => `${r.type} ${r.name}: ${r.sql.replace(/\s+/g, ' ')}`,
  );
}

function buildHistoric(version: number, file: string): void {
  const db = new Database(file);
  db.exec(readFileSync(new URL(`v${version}.sql`, HISTORY), 'utf8'));
  db.exec(readFileSync(new URL(`v${version}-seed.sql`, HISTORY), 'utf8'));
  db.pragma(`user_version = ${version}`);
  db.close();
}

describe('inventory migrations', () => {
  it('keeps a fixture for every schema version, the newest equal to what the migrations build', async () => {
    expect(historic).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
    const file = join(dir, 'fresh.db');
    const db = await openInventory(file);
    const fixture = new Database(':memory:');
    fixture.exec(readFileSync(new URL(`v${LATEST_VERSION}.sql`, HISTORY), 'utf8'));
    expect(schemaOf(db)).toEqual(schemaOf(fixture));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
    fixture.close();
  });

  it('creates the latest schema from nothing, with no backup (there was nothing to lose)', async () => {
    const file = join(dir, 'new', 'sub', 'lighter.db');
    const db = await openInventory(file);
    expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    db.close();
    expect(listBackups(file)).toEqual([]);
  });

  for (const from of historic) {
    it(`brings a v${from} database to v${LATEST_VERSION}, keeping its data, backed up first when it migrates`, async () => {
      const file = join(dir, `from-v${from}.db`);
      buildHistoric(from, file);
      // The latest version has nothing to migrate and so gets no backup.
      const db = await openInventory(file);
      expect(db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const inv = new Inventory(db, 'test');
      expect(inv.device('ship-01').vessel).toBe('MV Aurora');
      expect(inv.imagesOnDevice('ship-01').map((i) => `${i.tag}:${i.state}`)).toEqual(['1.9:present', '2.0:in_transit']);
      expect(inv.devicesWithImage('fleetacr.azurecr.io/vessel/telemetry:1.9').map((d) => d.device_id)).toEqual(['ship-01']);
      expect(inv.transfersPerDay()).toEqual([{ day: '2026-10-03', succeeded: 1, failed: 0 }]);
      expect(inv.device('truck-07').local_registry).toBe(from >= 2 ? 'localhost:5001' : null);
      // and it takes new writes
      inv.setDeviceImage('ship-01', { name: 'fleetacr.azurecr.io/vessel/telemetry:2.0' }, 'applied', { bundleId: 'b-telemetry-2.0' });
      db.close();
      const backups = listBackups(file);
      if (from < LATEST_VERSION) {
        expect(backups).toHaveLength(1);
        const b = new Database(backups[0]!, { readonly: true });
        expect(b.pragma('user_version', { simple: true })).toBe(from);
        expect((b.prepare('SELECT COUNT(*) AS n FROM devices').get() as { n: number }).n).toBe(2);
        b.close();
      } else {
        expect(backups).toEqual([]);
      }
    });
  }

  it('refuses a database from a newer Lighter, changing nothing', async () => {
    const file = join(dir, 'newer.db');
    const db = new Database(file);
    db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    db.close();
    const before = readFileSync(file);
    await expect(openInventory(file)).rejects.toThrow(`has schema v${LATEST_VERSION + 1}, newer than this Lighter knows (v${LATEST_VERSION})`);
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('refuses a corrupt file with the recovery path, changing nothing', async () => {
    const file = join(dir, 'corrupt.db');
    writeFileSync(file, Buffer.alloc(8192, 0x5a));
    writeFileSync(`${file}.backup-v1-2026-11-01T00-00-00-000Z`, 'placeholder');
    const before = readFileSync(file);
    const err = await openInventory(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InventoryDamagedError);
    expect((err as Error).message).toContain(`inventory database ${file} is damaged (file is not a database)`);
    expect((err as Error).message).toContain(`lighter db restore --db ${file} ${file}.backup-v1-2026-11-01T00-00-00-000Z`);
    expect((err as Error).message).toContain(`lighter db init --db ${file} --reinit`);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(existsSync(`${file}-wal`)).toBe(false);
  });

  it('refuses a database whose pages are damaged', async () => {
    const file = join(dir, 'damaged.db');
    buildHistoric(1, file);
    // Overwrite the middle of a table's b-tree page: the header stays valid, the content does not.
    const bytes = readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    expect(statSync(file).size).toBeGreaterThan(pageSize * 4);
    bytes.fill(0xff, pageSize * 3 + 8, pageSize * 4 - 8);
    writeFileSync(file, bytes);
    const before = readFileSync(file);
    await expect(openInventory(file)).rejects.toThrow(/is damaged \(.+\); there is no backup, or start empty/);
    expect(readFileSync(file).equals(before)).toBe(true);
  });
});
