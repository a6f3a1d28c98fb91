// `hub push`: a deployment's manifest goes to each device whose gate is open (every image it needs
// is on board), rewritten for that device (its local registry, imagePullPolicy never, createOptions
// split: core/deployment/rewrite.ts), with applyConfigurationContentOnDevice. Devices still missing
// images are refused and listed with what they miss. Who pushed and the sha256 of what was pushed
// are recorded per device, so pushing the same content again changes nothing.
import { createHash } from 'node:crypto';
import { parseManifest } from '../../core/deployment/manifest.js';
import { rewriteForDevice } from '../../core/deployment/rewrite.js';
import { canonicalJson } from '../../core/bundle/manifest.js';
import type { Inventory } from '../inventory/store.js';
import type { Notifications } from '../notify/notifications.js';
import { checkCancelled, type OperationControl } from '../../io/operation.js';
import type { HubConnections } from './connections.js';
import { hubCall, type HubCallOptions } from './hub-call.js';

export const DEFAULT_LOCAL_REGISTRY = 'localhost:5000';

export interface PushResult {
  deployment: string;
  pushed: string[];
  /** pushed before with the same content: nothing sent */
  unchanged: string[];
  refused: Array<{ deviceId: string; missing: string[] }>;
  /** the deployment's state after the push */
  state: string;
}

export interface PushOptions extends OperationControl {
  devices?: string[];
  call?: Omit<HubCallOptions, 'signal'>;
}

export class HubPush {
  constructor(
    private readonly inventory: Inventory,
    private readonly connections: HubConnections,
    private readonly notifications: Notifications,
  ) {}

  async push(deploymentId: number, ctl: PushOptions = {}): Promise<PushResult> {
    const inv = this.inventory;
    const dep = inv.deployment(deploymentId);
    if (dep.state === 'cancelled' || dep.state === 'draft') throw new Error(`deployment ${dep.name} is ${dep.state}; only a planned deployment can be pushed`);
    const targets = ctl.devices ?? dep.devices;
    const outside = targets.filter((d) => !dep.devices.includes(d));
    if (outside.length) throw new Error(`deployment ${dep.name} is not for ${outside.join(', ')} (its devices: ${dep.devices.join(', ')})`);
    const gate = inv.deploymentGate(deploymentId);
    const refused = gate.devices.filter((d) => targets.includes(d.deviceId) && d.missing.length > 0);
    const manifest = parseManifest(dep.manifestJson);
    const pushedRow = inv.db.prepare('SELECT pushed_sha256 FROM deployment_devices WHERE deployment_id = ? AND device_id = ?');
    const result: PushResult = { deployment: dep.name, pushed: [], unchanged: [], refused, state: dep.state };
    const go = targets.filter((d) => !refused.some((r) => r.deviceId === d));
    for (const [i, deviceId] of go.entries()) {
      checkCancelled(ctl, 'hub push');
      const device = inv.device(deviceId);
      const { content } = rewriteForDevice(manifest, { localRegistry: device.local_registry ?? DEFAULT_LOCAL_REGISTRY });
      const sha256 = createHash('sha256').update(canonicalJson(content)).digest('hex');
      if ((pushedRow.get(deploymentId, deviceId) as { pushed_sha256: string | null } | undefined)?.pushed_sha256 === sha256) {
        result.unchanged.push(deviceId);
        continue;
      }
      if (!device.hub) throw new Error(`device ${deviceId} is on no known hub; run \`lighter hub sync\` for its hub first`);
      const { registry, address } = await this.connections.open(device.hub);
      await hubCall(device.hub, address, `applying the manifest of ${dep.name} to ${deviceId}`, () => registry.applyConfigurationContentOnDevice(deviceId, content), { ...ctl.call, ...(ctl.signal ? { signal: ctl.signal } : {}) });
      const noted = inv.db.transaction(() => {
        inv.db.prepare('UPDATE deployment_devices SET pushed_at = ?, pushed_by = ?, pushed_sha256 = ? WHERE deployment_id = ? AND device_id = ?').run(new Date().toISOString(), inv.actor, sha256, deploymentId, deviceId);
        inv.db.prepare('INSERT INTO audit_log (at, actor, action, target, details_json) VALUES (?, ?, ?, ?, ?)').run(new Date().toISOString(), inv.actor, 'deployment-push', dep.name, JSON.stringify({ device: deviceId, hub: device.hub, sha256 }));
        return this.notifications.add({ kind: 'deployment-pushed', deploymentId, deviceId, message: `deployment ${dep.name} pushed to ${deviceId} by ${inv.actor}`, mailTo: dep.orderedBy.email });
      })();
      this.notifications.announce([noted]);
      result.pushed.push(deviceId);
      ctl.onProgress?.(i + 1, go.length);
    }
    // Every device has its manifest: the deployment is pushed (through ready, as the gate demands).
    const all = (inv.db.prepare('SELECT COUNT(*) AS n FROM deployment_devices WHERE deployment_id = ? AND pushed_sha256 IS NULL').get(deploymentId) as { n: number }).n === 0;
    if (all && dep.state !== 'pushed') {
      if (dep.state !== 'ready') inv.setDeploymentState(deploymentId, 'ready', 'every device pushed');
      inv.setDeploymentState(deploymentId, 'pushed', `pushed by ${inv.actor}`);
    }
    result.state = inv.deployment(deploymentId).state;
    return result;
  }
}
