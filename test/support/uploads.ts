// A data directory with devices, deployments and bundles ready to upload, for the upload tests:
// the inventory and bundle store as `deployment build` leaves them (bundle files of random bytes in
// the real content-addressed store, verified, and which device needs which one), so the tests can
// queue them with the real `lighter upload queue`. Building real bundles from images would cost
// minutes and say nothing more about uploads.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openInventory } from '../../main/inventory/open.js';
import { Inventory } from '../../main/inventory/store.js';
import { BundleStore } from '../../main/deployments/bundle-store.js';

export interface FleetBundle {
  /** a short name for the test */
  name: string;
  size: number;
  devices: string[];
}

export interface FleetDeployment {
  name: string;
  priority?: number;
  dueAt?: string;
  bundles: FleetBundle[];
}

export interface Fleet {
  db: string;
  dataDir: string;
  deployments: Array<{ id: number; name: string }>;
  bundles: Map<string, { id: string; sha256: string; size: number; path: string }>;
}

const MANIFEST = JSON.stringify({
  modulesContent: {
    $edgeAgent: {
      'properties.desired': {
        schemaVersion: '1.1',
        runtime: { type: 'docker', settings: {} },
        systemModules: {
          edgeAgent: { type: 'docker', settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5' } },
          edgeHub: { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'mcr.microsoft.com/azureiotedge-hub:1.5' } },
        },
        modules: { app: { type: 'docker', status: 'running', restartPolicy: 'always', version: '1.0', settings: { image: 'fleet.example/app:2' } } },
      },
    },
    $edgeHub: { 'properties.desired': { schemaVersion: '1.1', routes: {}, storeAndForwardConfiguration: { timeToLiveSecs: 7200 } } },
  },
});

export async function makeFleet(dataDir: string, deployments: FleetDeployment[]): Promise<Fleet> {
  const dbFile = join(dataDir, 'lighter.db');
  const db = await openInventory(dbFile);
  const inv = new Inventory(db, 'test-setup');
  const store = await BundleStore.open(join(dataDir, 'bundles'));
  const devices = [...new Set(deployments.flatMap((d) => d.bundles.flatMap((b) => b.devices)))];
  inv.importDevices(
    devices.map((id) => ({ id, displayName: null, vessel: null, site: null, group: 'test', tags: {}, hub: null, localRegistry: null, isEdge: true, connectionState: null, lastSeen: null })),
    'file',
    'test fleet',
  );
  const fleet: Fleet = { db: dbFile, dataDir, deployments: [], bundles: new Map() };
  let version = 1;
  for (const d of deployments) {
    const id = inv.createDeployment({
      name: d.name,
      manifestJson: MANIFEST,
      orderedBy: { name: 'Test Engineer', email: 'test@fleet.example' },
      devices: [...new Set(d.bundles.flatMap((b) => b.devices))],
      priority: d.priority ?? 0,
      dueAt: d.dueAt ?? null,
    });
    const rows: Array<{ deviceId: string; bundleId: string; target: { name: string } }> = [];
    for (const b of d.bundles) {
      const scratch = store.scratchPath();
      writeFileSync(scratch, randomBytes(b.size));
      const { sha256, size } = await store.adopt(scratch);
      const bundleId = `sha256:${randomBytes(32).toString('hex')}`;
      const target = { name: `fleet.example/${b.name}:2` };
      inv.recordBundle({ id: bundleId, version: version++, size, sha256, entries: [{ base: null, target }] });
      inv.setBundleState(bundleId, 'verified');
      for (const dev of b.devices) rows.push({ deviceId: dev, bundleId, target });
      fleet.bundles.set(b.name, { id: bundleId, sha256, size, path: store.pathOf(sha256) });
    }
    inv.planDeployment(id, rows);
    fleet.deployments.push({ id, name: d.name });
  }
  db.close();
  return fleet;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const LIGHTER = new URL('../../bin/lighter.js', import.meta.url).pathname;

/** Runs `lighter ARGS` (the built CLI); `onStart` gets the child, e.g. to kill it. */
export function lighter(args: string[], env: NodeJS.ProcessEnv, onStart?: (child: ReturnType<typeof spawn>) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(LIGHTER, args, { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    onStart?.(child);
  });
}
