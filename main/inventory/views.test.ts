// The rows the app's fleet and transfer screens get: every contract field, named and typed as the
// contract says (SQLite gives 0/1 for a flag and snake_case columns; neither may leak out).
import { describe, expect, it } from 'vitest';
import { useTempInventory } from '../../test/support/inventory.js';
import { parseDeviceList } from './import-devices.js';
import { Inventory } from './store.js';
import { InventoryViews } from './views.js';

const inv = useTempInventory('lighter-views-');

describe('inventory views', () => {
  it('gives device and transfer rows exactly the contract fields', async () => {
    const inventory = new Inventory(inv.db, 'ana');
    const twins = [{ deviceId: 'ship-01', capabilities: { iotEdge: true }, connectionState: 'Connected', tags: { group: 'tankers', vessel: 'Aurora', site: 'deck', displayName: 'Aurora 1' } }];
    inventory.importDevices(parseDeviceList(JSON.stringify(twins), { hub: 'hub-1' }), 'file', 'devices.json');
    inv.db.prepare("INSERT INTO bundles (id, version, size, sha256, state, created_at) VALUES ('b-1', 1, 10, 'sha256:x', 'verified', '2026-01-01T00:00:00Z')").run();
    inv.db
      .prepare("INSERT INTO transfers (bundle_id, device_id, channel, state, bytes_done, bytes_total, attempts, last_error, created_at, updated_at) VALUES ('b-1', 'ship-01', 'upload', 'failed', 4, 10, 2, 'gone', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z')")
      .run();
    const views = new InventoryViews(inventory);

    const row = {
      id: 'ship-01',
      displayName: 'Aurora 1',
      vessel: 'Aurora',
      site: 'deck',
      group: 'tankers',
      hub: 'hub-1',
      isEdge: true,
      connectionState: 'Connected',
      lastSeen: null,
      images: { present: 0, applied: 0, in_transit: 0, failed: 0 },
    };
    expect((await views.devices()).devices).toStrictEqual([row]);
    const transfer = { id: 1, bundleId: 'b-1', deviceId: 'ship-01', channel: 'upload', state: 'failed', bytesDone: 4, bytesTotal: 10, attempts: 2, lastError: 'gone', updatedAt: '2026-01-02T00:00:00Z', finishedAt: null };
    expect(await views.transfers()).toStrictEqual([transfer]);
    const detail = await views.device({ id: 'ship-01' });
    expect({ ...detail, tags: undefined, imageList: undefined, deployments: undefined }).toStrictEqual({ ...row, tags: undefined, imageList: undefined, deployments: undefined, transfers: [transfer] });
    expect(detail.tags).toEqual(twins[0]!.tags);
  });
});
