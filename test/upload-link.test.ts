// Uploads over a link that drops every few MB, with the uploader killed (-9) at random points, at
// least 20 times: every blob completes, each blob's sha256 is its bundle's, and the bytes that
// crossed the link stay within 1.1x the bundles' size. Real Azurite, the real CLI (dist/), a TCP
// proxy in front of Azurite that counts the bytes and cuts the connections.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type TestAzurite } from './support/azurite.js';
import { startCuttingProxy, type TestProxy } from './support/registry.js';
import { lighter, makeFleet, type Fleet } from './support/uploads.js';
import { openInventory } from '../main/inventory/open.js';

const MB = 1024 * 1024;
let azurite: TestAzurite;
let proxy: TestProxy;
let dir: string;
let fleet: Fleet;

beforeAll(async () => {
  azurite = await startAzurite();
  // Cuts every connection each time another 4 MB have gone through.
  proxy = await startCuttingProxy(azurite.host, 4 * MB, { times: 1000 });
  dir = mkdtempSync(join(tmpdir(), 'lighter-upload-link-'));
  fleet = await makeFleet(dir, [
    { name: 'north', priority: 5, bundles: [{ name: 'shared', size: 18 * MB + 12345, devices: ['ship-01', 'ship-02'] }] },
    { name: 'south', priority: 1, bundles: [{ name: 'south-app', size: 14 * MB + 777, devices: ['ship-03'] }, { name: 'south-db', size: 9 * MB + 1, devices: ['ship-03'] }] },
  ]);
});
afterAll(async () => {
  await proxy?.stop();
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('upload over a failing link, killed at random points', () => {
  it('completes every blob with its bundle’s sha256, within 1.1x the bytes', async () => {
    const env = { LIGHTER_DATA_DIR: dir, AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString(proxy.host), LIGHTER_UPLOAD_CONTAINER: 'link' };
    for (const d of fleet.deployments) {
      const q = await lighter(['upload', 'queue', '--deployment', String(d.id)], env);
      expect(q.code, q.stderr).toBe(0);
    }
    const total = [...fleet.bundles.values()].reduce((s, b) => s + b.size, 0);

    let kills = 0;
    for (let cycle = 0; kills < 24 && cycle < 60; cycle++) {
      const before = proxy.uploaded;
      // Most kills land mid-block (after a random number of bytes); every fourth at a random time,
      // which also hits start-up, listing, commits and index writes.
      const byTime = cycle % 4 === 3;
      const afterBytes = before + Math.floor((0.2 + Math.random() * 1.1) * MB);
      const afterMs = 100 + Math.random() * 1500;
      let killed = false;
      const run = await lighter(['upload', 'run', '--once'], env, (child) => {
        const started = Date.now();
        const timer = setInterval(() => {
          if (byTime ? Date.now() - started >= afterMs : proxy.uploaded >= afterBytes) {
            killed = child.kill('SIGKILL');
            clearInterval(timer);
          }
        }, 5);
        child.on('exit', () => clearInterval(timer));
      });
      if (killed && run.signal === 'SIGKILL') kills++;
      else {
        expect(run.code, run.stderr).toBe(0);
        break;
      }
    }
    expect(kills).toBeGreaterThanOrEqual(20);

    const last = await lighter(['upload', 'run', '--once', '--json'], env);
    expect(last.code, last.stderr).toBe(0);

    const db = await openInventory(join(dir, 'lighter.db'));
    const states = db.prepare("SELECT state, COUNT(*) AS n FROM transfers WHERE channel = 'upload' GROUP BY state").all();
    const leftBlocks = (db.prepare('SELECT COUNT(*) AS n FROM upload_blocks').get() as { n: number }).n;
    db.close();
    expect(states).toEqual([{ state: 'succeeded', n: 4 }]);
    expect(leftBlocks).toBe(0);

    // Read back past the proxy: each blob is its bundle, byte for byte.
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString()).getContainerClient('link');
    for (const b of fleet.bundles.values()) {
      const name = `bundles/${b.sha256.slice('sha256:'.length)}.lighter`;
      const data = await container.getBlockBlobClient(name).downloadToBuffer();
      expect(`sha256:${createHash('sha256').update(data).digest('hex')}`).toBe(b.sha256);
      const props = await container.getBlockBlobClient(name).getProperties();
      expect(props.metadata).toMatchObject({ bundleid: b.id, sha256: b.sha256 });
    }
    const index = JSON.parse((await container.getBlockBlobClient('devices/ship-03/index.json').downloadToBuffer()).toString()) as { bundles: Array<{ sha256: string }> };
    // The device applies south-app first (its plan's order); south-db, though smaller, waited for it.
    expect(index.bundles.map((x) => x.sha256)).toEqual([fleet.bundles.get('south-app')!.sha256, fleet.bundles.get('south-db')!.sha256]);

    const ratio = proxy.uploaded / total;
    console.log(`upload-link: ${kills} kills, ${proxy.cuts} link cuts; ${proxy.uploaded} bytes through the proxy for ${total} bytes of bundles = ${ratio.toFixed(4)}x`);
    expect(ratio).toBeLessThanOrEqual(1.1);
  }, 480_000);
});
