// Opening the inventory: integrity first, then WAL + synchronous=FULL + foreign keys, then any
// pending migrations, each preceded by a backup of the database as it was.
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDir, sweepPartials, tempPathFor } from '../../io/atomic-file.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

export class InventoryDamagedError extends Error {
  override name = 'InventoryDamagedError';
}

/** Backups of `file` made before migrations, newest first. */
export function listBackups(file: string): string[] {
  const prefix = `${basename(file)}.backup-`;
  const dir = dirname(file);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch {
    /* no directory: no backups */
  }
  return names.sort().reverse().map((n) => join(dir, n));
}

function damaged(file: string, detail: string): InventoryDamagedError {
  const backups = listBackups(file);
  const restore = backups.length > 0 ? `restore a backup with \`lighter db restore --db ${file} ${backups[0]}\` (backups: ${backups.join(', ')})` : 'there is no backup';
  return new InventoryDamagedError(
    `inventory database ${file} is damaged (${detail.replace(/\s+/g, ' ').trim()}); ${restore}, or start empty with \`lighter db init --db ${file} --reinit\` (keeps the damaged file as ${basename(file)}.damaged-<time>)`,
  );
}

function checkIntegrity(db: Db, file: string): void {
  let rows: Array<{ integrity_check: string }>;
  try {
    rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
  } catch (err) {
    throw damaged(file, (err as Error).message);
  }
  if (rows.length !== 1 || rows[0]!.integrity_check !== 'ok') {
    throw damaged(file, rows.slice(0, 3).map((r) => r.integrity_check).join('; '));
  }
}

export function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** A consistent copy of the open database (VACUUM INTO), written under a temp name and renamed. */
export async function backupTo(db: Db, target: string): Promise<void> {
  const tmp = tempPathFor(target);
  try {
    db.prepare('VACUUM INTO ?').run(tmp);
    renameSync(tmp, target);
    await fsyncDir(dirname(target));
  } finally {
    rmSync(tmp, { force: true });
  }
}

export interface OpenOptions {
  /** create the file (and its directory) when missing; default true */
  create?: boolean;
  /** migrations to apply; tests pass a prefix of the list to build older schema versions */
  migrations?: Migration[];
}

export async function openInventory(file: string, options: OpenOptions = {}): Promise<Db> {
  const migrations = options.migrations ?? MIGRATIONS;
  const latest = migrations.length;
  if (!existsSync(file)) {
    if (options.create === false) throw new Error(`no inventory database at ${file}; create it with \`lighter db init --db ${file}\``);
    mkdirSync(dirname(file), { recursive: true });
  }
  await sweepPartials(dirname(file));
  const db = new Database(file);
  try {
    checkIntegrity(db, file);
    // Checked before any pragma that writes (journal_mode rewrites the header): a file from a newer
    // Lighter is left exactly as it was.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > latest) {
      throw new Error(`inventory database ${file} has schema v${version}, newer than this Lighter knows (v${latest}); use a newer Lighter`);
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    if (version < latest) {
      if (version > 0) await backupTo(db, `${file}.backup-v${version}-${stamp()}`);
      for (const m of migrations.slice(version)) {
        db.transaction(() => {
          db.exec(m.sql);
          db.pragma(`user_version = ${m.version}`);
        })();
      }
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) throw new Error(`migration to v${latest} left ${broken.length} broken references in ${file}; restore the backup`);
    }
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Moves a damaged database and its WAL files aside (never deletes them). Returns the new name. */
export function moveAside(file: string): string {
  const aside = `${file}.damaged-${stamp()}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) renameSync(file + suffix, aside + suffix);
  }
  return aside;
}

/**
 * `lighter db init --reinit`: moves a damaged database aside so an empty one can start. Refuses a
 * database that opens: --reinit must never shelve a good one. Returns where the old file went.
 */
export async function shelveDamaged(file: string): Promise<string | null> {
  if (!existsSync(file)) return null;
  const damaged = await openInventory(file).then(
    (db) => (db.close(), false),
    (err: unknown) => err instanceof InventoryDamagedError,
  );
  if (!damaged) throw new Error(`${file} is not damaged; --reinit only replaces a damaged database (move it away yourself to start over)`);
  return moveAside(file);
}

/**
 * Puts a copy of `backup` in place of `file` after checking it; the current file (and its -wal/-shm)
 * is moved aside, never deleted. Returns where it went (null when there was none).
 */
export async function restoreBackup(file: string, backup: string): Promise<string | null> {
  if (!existsSync(backup)) throw new Error(`backup ${backup} does not exist`);
  const src = new Database(backup, { readonly: true, fileMustExist: true });
  try {
    const check = src.pragma('integrity_check', { simple: true });
    if (check !== 'ok') throw new Error(`backup ${backup} is damaged too (${String(check)})`);
    mkdirSync(dirname(file), { recursive: true });
    const movedTo = existsSync(file) ? moveAside(file) : null;
    await backupTo(src, file);
    return movedTo;
  } catch (err) {
    if ((err as Error).message.includes('file is not a database')) throw new Error(`backup ${backup} is not a database`);
    throw err;
  } finally {
    src.close();
  }
}
