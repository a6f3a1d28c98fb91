// Acceptance (issue 13): `lighter usb export` SIGKILLed at random points, again and again. After
// every kill each bundle file on the stick is whole (its bytes hash to its name) or absent, and an
// index, if there, verifies; the export that is let finish skips what is complete, and the stick
// then verifies on import, with one usb transfer per device and bundle in the inventory.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeys } from '../io/keys.js';
import { parsePublicKey } from '../io/receipt.js';
import { BundleStore } from '../main/deployments/bundle-store.js';
import { DeploymentService } from '../main/deployments/service.js';
import { openInventory } from '../main/inventory/open.js';
import { Inventory } from '../main/inventory/store.js';
import { UsbImporter } from '../main/usb/import.js';
import { readIndex } from '../main/usb/stick-reader.js';
import { seedFleet, type Fleet } from './support/fleet.js';
import { CLI } from './support/usb.js';

const CYCLES = Number(process.env.LIGHTER_SOAK_CYCLES ?? 24);
const dir = mkdtempSync(join(tmpdir(), 'lighter-usb-kill-'));
let fleet: Fleet;
let keys: { privateKey: string; publicKey: string };
let deployment: number;

beforeAll(async () => {
  fleet = await seedFleet(join(dir, 'shore'), 'usbk');
  keys = await generateKeys(join(dir, 'keys'));
  const db = await openInventory(fleet.dbFile);
  try {
    const service = new DeploymentService(new Inventory(db, 'ana'), await BundleStore.open(join(fleet.dataDir, 'bundles')));
    deployment = service.create({ manifestJson: fleet.manifest, name: 'kill', group: 'usbk-north', orderedBy: { name: 'Ana', email: 'ana@fleet.example' } });
    await service.build(deployment, keys.privateKey);
  } finally {
    db.close();
  }
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the export; SIGKILLs it after `ms` unless null. Resolves with the exit status and time taken. */
function exportRun(stick: string, ms: number | null): Promise<{ code: number | null; took: number; stderr: string }> {
  return new Promise((resolve) => {
    const start = Date.now();
    const child = spawn('node', [CLI, 'usb', 'export', '--deployment', String(deployment), '--to', stick, '--key', keys.privateKey, '--db', fleet.dbFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LIGHTER_USER: 'ana' },
    });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = ms === null ? null : setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, took: Date.now() - start, stderr });
    });
  });
}

/** What must hold after any kill: named files whole, the index (if any) verified. */
async function checkConsistent(stick: string): Promise<void> {
  const bundles = join(stick, 'lighter', 'bundles');
  for (const name of existsSync(bundles) ? readdirSync(bundles) : []) {
    if (name.startsWith('.lighter-partial-')) continue;
    const hex = /^([0-9a-f]{64})\.bundle$/.exec(name)?.[1];
    expect(hex, name).toBeDefined();
    expect(createHash('sha256').update(readFileSync(join(bundles, name))).digest('hex')).toBe(hex);
  }
  if (existsSync(join(stick, 'lighter', 'index.json'))) await readIndex(stick, parsePublicKey(readFileSync(keys.publicKey, 'utf8')));
}

describe('USB export under kill -9', () => {
  it(`stays consistent through ${CYCLES} kills at random points, then completes and verifies`, async () => {
    // How long a whole export takes here, on a scratch stick: kills are spread over that span.
    const scratch = join(dir, 'scratch');
    mkdirSync(scratch);
    const whole = await exportRun(scratch, null);
    expect(whole.code, whole.stderr).toBe(0);
    const stick = join(dir, 'stick');
    mkdirSync(stick);
    let killed = 0;
    for (let i = 0; i < CYCLES; i++) {
      const r = await exportRun(stick, Math.floor(Math.random() * whole.took * 1.1));
      if (r.code === null) killed++;
      else expect(r.code, r.stderr).toBe(0);
      await checkConsistent(stick);
      // A run that finished leaves a complete stick; start over so later kills land mid-export again.
      if (r.code === 0) {
        rmSync(join(stick, 'lighter'), { recursive: true, force: true });
      }
    }
    expect(killed).toBeGreaterThanOrEqual(Math.floor(CYCLES / 2));

    const last = await exportRun(stick, null);
    expect(last.code, last.stderr).toBe(0);
    await checkConsistent(stick);
    const report = await new UsbImporter(join(dir, 'crew')).import({ dir: stick, pubkey: keys.publicKey, dryRun: true });
    expect(report.devices.map((d) => d.bundles.map((b) => b.outcome))).toEqual([['planned'], ['planned'], ['planned']]);

    // One usb transfer per device and bundle of this set, succeeded, whatever was killed on the way.
    const db = await openInventory(fleet.dbFile);
    try {
      const rows = db.prepare("SELECT device_id, bundle_id, state FROM transfers WHERE channel = 'usb' AND usb_set = ? ORDER BY device_id").all(report.set) as Array<{ device_id: string; state: string }>;
      expect(rows.map((r) => [r.device_id, r.state])).toEqual(fleet.devices.map((d) => [d, 'succeeded']));
    } finally {
      db.close();
    }
  }, 300_000);
});
