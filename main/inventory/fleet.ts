// The `fleet` namespace: importing a device list the user picked in the app, through the same
// parser and inventory write as `lighter db import-devices`.
import type { FleetApi, ImportResult } from '../../contract/fleet.js';
import { parseDeviceList } from './import-devices.js';
import type { Inventory } from './store.js';

export class FleetService implements FleetApi {
  constructor(private readonly inventory: Inventory) {}

  async importDevices(req: { filename: string; content: string; hub?: string; groupTag?: string }): Promise<ImportResult> {
    const devices = parseDeviceList(req.content, { hub: req.hub ?? null, ...(req.groupTag ? { groupTag: req.groupTag } : {}) });
    const r = this.inventory.importDevices(devices, 'file', req.filename);
    return { added: r.added.length, updated: r.updated.length, unchanged: r.unchanged.length, conflicts: r.conflicts };
  }
}
