// `planning`: what a deployment manifest needs on each device, the fewest bundles that serve them,
// and each device's manifest rewritten to pull from its local registry (with IoT Hub's limits linted).
import { z } from 'zod';
import type { JsonObject } from '../core/deployment/manifest.js';
import type { Plan } from '../core/plan/plan.js';
import type { MethodOf } from './channels.js';

const text = z.string().trim().min(1, 'must not be empty').max(256, 'is longer than 256 characters');

export const planningRequests = {
  plan: z
    .object({
      /** the IoT Edge deployment manifest, as JSON text */
      manifestJson: z.string().min(2).max(4 << 20, 'is larger than 4 MiB'),
      devices: z.array(text).min(1).max(10_000).optional(),
      group: text.optional(),
      /** the device registry to pull from, for devices whose inventory entry names none */
      localRegistry: text.default('localhost:5000'),
    })
    .strict()
    .refine((r) => !r.devices !== !r.group, 'give either devices or group'),
} satisfies Record<MethodOf<'planning'>, z.ZodTypeAny>;

export interface DeviceManifest {
  deviceId: string;
  localRegistry: string;
  /** the manifest as this device gets it: images pulled from its local registry */
  content: { modulesContent: JsonObject };
  /** IoT Hub limits the rewritten manifest breaks (empty: it can be applied) */
  lint: string[];
}

export interface PlanReport extends Plan {
  manifests: DeviceManifest[];
}

export interface PlanningApi {
  plan(req: z.input<typeof planningRequests.plan>): Promise<PlanReport>;
}
