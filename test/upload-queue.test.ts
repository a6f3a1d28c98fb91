// The upload queue through the real CLI against Azurite: the documented order (priority, then due
// date, then smallest, a device's bundles in apply order), the shared rate cap measured at a proxy,
// and pause / resume / cancel from another process while `upload run` works.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInventory } from '../main/inventory/open.js';
import { startAzurite, type TestAzurite } from './support/azurite.js';
import { startCuttingProxy, type TestProxy } from './support/registry.js';
import { lighter, makeFleet } from './support/uploads.js';

const KB = 1024;
const MB = 1024 * KB;
let azurite: TestAzurite;
const dirs: string[] = [];
const proxies: TestProxy[] = [];

beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  for (const p of proxies) await p.stop();
  await azurite?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lighter-upload-queue-'));
  dirs.push(d);
  return d;
}

/** A proxy that counts bytes towards Azurite and never cuts. */
async function countingProxy(): Promise<TestProxy> {
  const p = await startCuttingProxy(azurite.host, Number.MAX_SAFE_INTEGER);
  proxies.push(p);
  return p;
}

async function transferStates(dir: string): Promise<Array<{ id: number; bundle: string; state: string; paused: number }>> {
  const db = await openInventory(join(dir, 'lighter.db'));
  try {
    return db.prepare("SELECT t.id, t.bundle_id AS bundle, t.state, t.paused_at IS NOT NULL AS paused FROM transfers t WHERE channel = 'upload' ORDER BY t.id").all() as never;
  } finally {
    db.close();
  }
}

describe('upload queue', () => {
  it('uploads in the documented order: priority, due date, smallest first, a device’s bundles in apply order', async () => {
    const dir = tempDir();
    const fleet = await makeFleet(dir, [
      { name: 'A', priority: 1, bundles: [{ name: 'a1', size: 300 * KB, devices: ['dev-1'] }, { name: 'a2', size: 100 * KB, devices: ['dev-2'] }] },
      { name: 'B', priority: 5, dueAt: '2026-12-20T00:00:00Z', bundles: [{ name: 'b1', size: 500 * KB, devices: ['dev-3'] }] },
      // c2 is small, but dev-4 applies it after c1
      { name: 'C', priority: 5, dueAt: '2026-12-10T00:00:00Z', bundles: [{ name: 'c1', size: 900 * KB, devices: ['dev-4'] }, { name: 'c2', size: 200 * KB, devices: ['dev-4'] }] },
      { name: 'D', priority: 0, dueAt: '2026-12-01T00:00:00Z', bundles: [{ name: 'd1', size: 50 * KB, devices: ['dev-5'] }] },
      { name: 'E', priority: 5, bundles: [{ name: 'e1', size: 10 * KB, devices: ['dev-6'] }] },
    ]);
    const env = { LIGHTER_DATA_DIR: dir, AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString(), LIGHTER_UPLOAD_CONTAINER: 'order' };
    // Queued in an order unlike the rule's, so the queue's order cannot be the insertion order.
    for (const d of [...fleet.deployments].reverse()) expect((await lighter(['upload', 'queue', '--deployment', String(d.id)], env)).code).toBe(0);
    const nameOf = new Map([...fleet.bundles].map(([name, b]) => [b.id, name]));

    const listed = await lighter(['upload', 'list', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    const queued = (JSON.parse(listed.stdout) as Array<{ bundleId: string }>).map((t) => nameOf.get(t.bundleId));
    expect(queued).toEqual(['c1', 'b1', 'e1', 'a2', 'a1', 'd1', 'c2']);

    const run = await lighter(['upload', 'run', '--once', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { succeeded: number[]; failed: unknown[] };
    expect(summary.failed).toEqual([]);
    const byId = new Map((await transferStates(dir)).map((t) => [t.id, nameOf.get(t.bundle)]));
    expect(summary.succeeded.map((id) => byId.get(id))).toEqual(['c1', 'c2', 'b1', 'e1', 'a2', 'a1', 'd1']);

    const container = BlobServiceClient.fromConnectionString(azurite.connectionString()).getContainerClient('order');
    const index = JSON.parse((await container.getBlockBlobClient('devices/dev-4/index.json').downloadToBuffer()).toString()) as { bundles: Array<{ sha256: string }> };
    expect(index.bundles.map((b) => b.sha256)).toEqual([fleet.bundles.get('c1')!.sha256, fleet.bundles.get('c2')!.sha256]);
    // Once uploaded, the images those bundles bring are on their way to the device.
    const db = await openInventory(join(dir, 'lighter.db'));
    const onWay = db.prepare("SELECT i.repository || ':' || i.tag AS image, di.state, di.channel FROM device_images di JOIN images i ON i.id = di.image_id WHERE di.device_id = 'dev-4' ORDER BY image").all();
    db.close();
    expect(onWay).toEqual([
      { image: 'fleet.example/c1:2', state: 'in_transit', channel: 'upload' },
      { image: 'fleet.example/c2:2', state: 'in_transit', channel: 'upload' },
    ]);
  });

  it('holds all uploads together to --rate 256KiB/s, measured at the link', async () => {
    const dir = tempDir();
    const fleet = await makeFleet(dir, [{ name: 'R', bundles: [{ name: 'r1', size: 2 * MB, devices: ['dev-r1'] }, { name: 'r2', size: 2 * MB, devices: ['dev-r2'] }] }]);
    const proxy = await countingProxy();
    const env = { LIGHTER_DATA_DIR: dir, AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString(proxy.host), LIGHTER_UPLOAD_CONTAINER: 'rate' };
    expect((await lighter(['upload', 'queue', '--deployment', String(fleet.deployments[0]!.id)], env)).code).toBe(0);
    const samples: Array<[number, number]> = [];
    const timer = setInterval(() => samples.push([performance.now(), proxy.uploaded]), 50);
    // Two bundles at once share the cap.
    const run = await lighter(['upload', 'run', '--once', '--rate', '256KiB/s', '--concurrency', '2'], env);
    clearInterval(timer);
    expect(run.code, run.stderr).toBe(0);
    // From the moment 0.5 MB have crossed to the moment 3.5 MB have: 3 MB, about 12 s at the cap.
    const from = samples.find(([, b]) => b >= 0.5 * MB)!;
    const to = samples.find(([, b]) => b >= 3.5 * MB)!;
    const rate = (to[1] - from[1]) / ((to[0] - from[0]) / 1000);
    console.log(`upload-rate: ${Math.round(rate)} B/s over ${((to[0] - from[0]) / 1000).toFixed(1)} s (cap 262144 B/s, ${((rate / 262144 - 1) * 100).toFixed(1)}%)`);
    expect(Math.abs(rate / 262144 - 1)).toBeLessThan(0.1);
  }, 120_000);

  it('pauses, resumes and cancels transfers from another process while the runner works', async () => {
    const dir = tempDir();
    const fleet = await makeFleet(dir, [
      { name: 'P', priority: 9, bundles: [{ name: 'big', size: 4 * MB, devices: ['dev-p'] }] },
      { name: 'Q', priority: 5, bundles: [{ name: 'next', size: 512 * KB, devices: ['dev-q'] }] },
      { name: 'X', priority: 1, bundles: [{ name: 'dropped', size: 256 * KB, devices: ['dev-x'] }] },
    ]);
    const proxy = await countingProxy();
    const env = { LIGHTER_DATA_DIR: dir, AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString(proxy.host), LIGHTER_UPLOAD_CONTAINER: 'control' };
    for (const d of fleet.deployments) expect((await lighter(['upload', 'queue', '--deployment', String(d.id)], env)).code).toBe(0);
    const [big, next, dropped] = (await transferStates(dir)).map((t) => t.id);
    expect((await lighter(['upload', 'cancel', String(dropped)], env)).code).toBe(0);

    let runner: ReturnType<typeof import('node:child_process').spawn> | undefined;
    // Slow enough that the pause (another CLI process) lands while `big` is still going.
    const run = lighter(['upload', 'run', '--rate', '512KiB/s', '--json'], env, (child) => (runner = child));
    const until = async (what: () => Promise<boolean> | boolean) => {
      for (let i = 0; i < 1200 && !(await what()); i++) await new Promise((r) => setTimeout(r, 50));
    };
    await until(() => proxy.uploaded > 600 * KB);
    const paused = await lighter(['upload', 'pause', String(big), '--json'], env);
    expect(paused.code, paused.stderr).toBe(0);
    // The runner stops it (back to queued, held) and goes on with the next one.
    await until(async () => (await transferStates(dir)).find((t) => t.id === next)?.state === 'succeeded');
    let states = await transferStates(dir);
    expect(states.find((t) => t.id === big)).toMatchObject({ state: 'queued', paused: 1 });
    expect(states.find((t) => t.id === next)?.state).toBe('succeeded');

    expect((await lighter(['upload', 'resume', String(big)], env)).code).toBe(0);
    await until(async () => (await transferStates(dir)).find((t) => t.id === big)?.state === 'succeeded');
    runner!.kill('SIGINT');
    const done = await run;
    expect(done.code, done.stderr).toBe(0);
    states = await transferStates(dir);
    expect(states.map((t) => t.state)).toEqual(['succeeded', 'succeeded', 'cancelled']);

    // The paused upload resumed from its staged blocks; the cancelled one never went.
    const sizes = fleet.bundles.get('big')!.size + fleet.bundles.get('next')!.size;
    expect(proxy.uploaded).toBeLessThan(sizes * 1.1);
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString()).getContainerClient('control');
    expect(await container.getBlockBlobClient(`bundles/${fleet.bundles.get('dropped')!.sha256.slice(7)}.lighter`).exists()).toBe(false);
  }, 120_000);
});
