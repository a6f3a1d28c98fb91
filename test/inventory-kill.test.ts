// kill -9 during writes: a child process records images as fast as it can and prints each number
// after its transaction commits; the parent SIGKILLs it at a random moment, reopens the database
// (integrity check included) and checks every printed write is there, whole. Uses dist/ (the
// compiled inventory, as the CLI runs it).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-inv-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'lighter.db');
const dist = new URL('../dist/main/inventory/', import.meta.url).pathname;

const CHILD = `
import { writeSync } from 'node:fs';
const { openInventory } = await import(${JSON.stringify(`${dist}open.js`)});
const { Inventory } = await import(${JSON.stringify(`${dist}store.js`)});
const inv = new Inventory(await openInventory(process.argv[1]), 'writer');
for (let i = Number(process.argv[2]); ; i++) {
  inv.recordImage('ship-01', { name: 'fleet.example/app:' + i });
  writeSync(1, i + '\\n');
}
`;

function cycle(start: number, killAfterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, file, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Count from the first commit, so every cycle kills mid-write rather than during start-up.
      timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited ${code}: ${err}`));
      resolve(out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number));
    });
  });
}

describe('inventory under kill -9', () => {
  it('loses no committed write and stays intact over 100 kills', async () => {
    const setup = await openInventory(file);
    new Inventory(setup, 'test').importDevices([{ id: 'ship-01', displayName: null, vessel: null, site: null, group: null, tags: {}, hub: null, localRegistry: null, isEdge: true, connectionState: null, lastSeen: null }], 'file', 'setup');
    setup.close();
    const committed: number[] = [];
    let next = 0;
    for (let c = 0; c < 100; c++) {
      const reported = await cycle(next, 5 + Math.floor(Math.random() * 40));
      committed.push(...reported);
      next = (reported.at(-1) ?? next) + 1_000; // skip whatever the killed transaction may have held
      const db = await openInventory(file);
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        const tags = new Set((db.prepare("SELECT tag FROM images WHERE repository = 'fleet.example/app'").all() as Array<{ tag: string }>).map((r) => Number(r.tag)));
        for (const n of reported) expect(tags.has(n)).toBe(true);
        // every transaction is whole: each image has its device row, its history row and its audit row
        const torn = db
          .prepare(
            `SELECT COUNT(*) AS n FROM images i WHERE i.repository = 'fleet.example/app' AND (
               NOT EXISTS (SELECT 1 FROM device_images di WHERE di.image_id = i.id AND di.state = 'present')
               OR NOT EXISTS (SELECT 1 FROM state_history h WHERE h.entity = 'device_image' AND h.entity_id = 'ship-01/' || i.id))`,
          )
          .get() as { n: number };
        expect(torn.n).toBe(0);
        const audits = (db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'device-image'").get() as { n: number }).n;
        expect(audits).toBe(tags.size);
      } finally {
        db.close();
      }
    }
    expect(committed.length).toBeGreaterThan(100);
  }, 120_000);
});
