// Planning as the app and the CLI both do it: what a deployment manifest needs on each device (from
// the inventory), the fewest (base, target) bundles that serve the fleet, and each device's manifest
// rewritten to pull from its local registry, linted against IoT Hub's limits.
import type { PlanningApi, PlanReport } from '../../contract/index.js';
import { formatImageName } from '../../core/deployment/image-name.js';
import { lintManifest } from '../../core/deployment/lint.js';
import { parseManifest, type ModuleImage } from '../../core/deployment/manifest.js';
import { rewriteForDevice } from '../../core/deployment/rewrite.js';
import { plan, type Plan } from '../../core/plan/plan.js';
import type { Inventory } from '../inventory/store.js';

type PlanRequest = Parameters<PlanningApi['plan']>[0];

export class PlanningService implements PlanningApi {
  constructor(private readonly inventory: Inventory) {}

  /** The plan for these devices as the inventory stands now. */
  planFor(modules: ModuleImage[], deviceIds: string[]): Plan {
    return plan({
      modules,
      devices: deviceIds.map((id) => this.inventory.planDevice(id)),
      lookup: (n) => this.inventory.knownImage(formatImageName(n)),
    });
  }

  async plan(req: PlanRequest): Promise<PlanReport> {
    if (!req.devices === !req.group) throw new Error('give either devices or a group, not both or neither');
    const manifest = parseManifest(req.manifestJson);
    const devices = req.group ? this.inventory.devicesInGroup(req.group) : req.devices!.map((id) => this.inventory.device(id));
    const manifests = devices.map((d) => {
      const localRegistry = d.local_registry ?? req.localRegistry ?? 'localhost:5000';
      const { content } = rewriteForDevice(manifest, { localRegistry });
      return { deviceId: d.id, localRegistry, content, lint: lintManifest(content).map((i) => i.message) };
    });
    return { ...this.planFor(manifest.modules, devices.map((d) => d.id)), manifests };
  }
}
