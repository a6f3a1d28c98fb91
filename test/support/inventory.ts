// A fresh inventory file of the current schema for one test file: opened before its tests, closed
// and removed (with its temp directory) after them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openInventory, type Db } from '../../main/inventory/open.js';

export interface TempInventory {
  /** the open database (from beforeAll on) */
  readonly db: Db;
  /** the temp directory it lives in, as <dir>/inventory.db */
  readonly dir: string;
}

export function useTempInventory(prefix: string): TempInventory {
  let db: Db | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), prefix));
    db = await openInventory(join(dir, 'inventory.db'));
  });
  afterAll(() => {
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const opened = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('useTempInventory: the inventory opens in beforeAll; use it inside tests');
    return v;
  };
  return {
    get db() {
      return opened(db);
    },
    get dir() {
      return opened(dir);
    },
  };
}
