// A link that is down for longer than the retries last: the transfer fails with the link's error,
// and a runner that keeps going queues it again later (and later), until the link is back and it
// completes. Real Azurite behind a proxy that refuses every connection while "down".
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type TestAzurite } from '../../test/support/azurite.js';
import { makeFleet } from '../../test/support/uploads.js';
import { containerClient, parseStorageCredential } from '../../io/blob/storage.js';
import { BundleStore } from '../deployments/bundle-store.js';
import { openInventory, type Db } from '../inventory/open.js';
import { Inventory } from '../inventory/store.js';
import { UploadQueue } from './upload-queue.js';
import { UploadStore } from './upload-store.js';

let azurite: TestAzurite;
let link: Server;
let down = true;
const sockets = new Set<Socket>();
let dir: string;
let db: Db;

beforeAll(async () => {
  azurite = await startAzurite();
  const [host, port] = azurite.host.split(':') as [string, string];
  link = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect(Number(port), host);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => (client.destroy(), upstream.destroy());
    client.on('error', drop).on('close', () => sockets.delete(client));
    upstream.on('error', drop).on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((r) => link.listen(0, '127.0.0.1', r));
  dir = mkdtempSync(join(tmpdir(), 'lighter-upload-relink-'));
});
afterAll(async () => {
  db?.close();
  for (const s of sockets) s.destroy();
  await new Promise((r) => link?.close(r));
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('upload queue on a link that stays down', () => {
  it('fails the transfer with the link’s error, queues it again later, and completes once the link is back', async () => {
    const fleet = await makeFleet(dir, [{ name: 'north', bundles: [{ name: 'app', size: 300 * 1024, devices: ['ship-01'] }] }]);
    db = await openInventory(fleet.db);
    const inventory = new Inventory(db, 'test');
    const store = new UploadStore(db, inventory);
    const [id] = store.queueDeployment(fleet.deployments[0]!.id);
    const bundles = await BundleStore.open(join(dir, 'bundles'));
    const at = `127.0.0.1:${(link.address() as AddressInfo).port}`;
    const container = containerClient(parseStorageCredential(azurite.connectionString(at), 'relink'));
    const queue = new UploadQueue({
      inventory,
      store,
      container: async () => container,
      bundlePath: (sha) => bundles.pathOf(sha),
      lockFile: join(dir, 'upload-runner.lock'),
      retry: { attempts: 2, baseMs: 10, capMs: 20 },
      relinkMs: 300,
    });
    await containerClient(parseStorageCredential(azurite.connectionString(), 'relink')).createIfNotExists();

    const stop = new AbortController();
    const finished: string[] = [];
    const run = queue.run({ signal: stop.signal, onFinished: (t) => finished.push(t.state) });
    for (let i = 0; i < 200 && finished.filter((s) => s === 'failed').length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(store.item(id!).lastError).toMatch(/ECONNRESET|socket hang up|closed|reset/i);
    down = false;
    for (let i = 0; i < 200 && store.item(id!).state !== 'succeeded'; i++) await new Promise((r) => setTimeout(r, 50));
    stop.abort(new Error('test done'));
    const summary = await run;

    expect(store.item(id!).state).toBe('succeeded');
    expect(summary).toMatchObject({ succeeded: [id], failed: [] });
    expect(finished.slice(0, 2)).toEqual(['failed', 'failed']);
    expect(finished.at(-1)).toBe('succeeded');
    const moves = db.prepare("SELECT from_state, to_state FROM state_history WHERE entity = 'transfer' AND entity_id = ? ORDER BY id").all(String(id)) as Array<{ from_state: string | null; to_state: string }>;
    expect(moves.slice(0, 5).map((m) => m.to_state)).toEqual(['queued', 'running', 'failed', 'queued', 'running']);
    expect(moves.at(-1)?.to_state).toBe('succeeded');
  }, 60_000);
});
