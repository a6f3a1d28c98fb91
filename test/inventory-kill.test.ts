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

// The writer loads everything, says "ready", and starts writing at the number it is sent. The test
// starts the next writer while the current one runs, so process start-up stays off the clock.
const CHILD = `
import { writeSync } from 'node:fs';
import { once } from 'node:events';
const { openInventory } = await import(${JSON.stringify(`${dist}open.js`)});
const { Inventory } = await import(${JSON.stringify(`${dist}store.js`)});
writeSync(1, 'ready\\n');
const [line] = await once(process.stdin, 'data');
const inv = new Inventory(await openInventory(process.argv[1]), 'writer');
for (let i = Number(String(line).trim()); ; i++) {
  inv.recordImage('ship-01', { name: 'fleet.example/app:' + i });
  writeSync(1, i + '\\n');
}
`;

interface Writer {
  /** starts writing at `start`, SIGKILLs the writer `killAfterMs` after its first commit; resolves with the committed numbers */
  run(start: number, killAfterMs: number): Promise<number[]>;
  kill(): void;
}

function startWriter(): Promise<Writer> {
  return new Promise((resolveReady, rejectReady) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, file], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let onData = () => {};
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      onData();
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
    onData = () => {
      if (!out.startsWith('ready\n')) return;
      resolveReady({
        kill: () => child.kill('SIGKILL'),
        run(start, killAfterMs) {
          let timer: NodeJS.Timeout | undefined;
          onData = () => (timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs));
          child.stdin.write(`${start}\n`);
          return exited.then((signal) => {
            clearTimeout(timer);
            if (signal !== 'SIGKILL') throw new Error(`writer stopped by itself: ${err}`);
            return out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
          });
        },
      });
    };
    exited.then((signal) => signal === null && rejectReady(new Error(`writer failed to start: ${err}`)));
  });
}

describe('inventory under kill -9', () => {
  it('loses no committed write and stays intact over 100 kills', async () => {
    const setup = await openInventory(file);
    new Inventory(setup, 'test').importDevices([{ id: 'ship-01', displayName: null, vessel: null, site: null, group: null, tags: {}, hub: null, localRegistry: null, isEdge: true, connectionState: null, lastSeen: null }], 'file', 'setup');
    setup.close();
    const committed: number[] = [];
    let next = 0;
    let spare = startWriter();
    for (let c = 0; c < 100; c++) {
      const writer = await spare;
      spare = startWriter();
      const reported = await writer.run(next, 5 + Math.floor(Math.random() * 40));
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
    (await spare).kill();
    expect(committed.length).toBeGreaterThan(100);
  }, 120_000);
});
