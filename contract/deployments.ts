// `deployments`: create a deployment, build its bundles (a long operation: the app runs it as a job),
// and show what each device needs. Requests are parsed in main with these schemas.
import { z } from 'zod';
import type { Plan } from '../core/plan/plan.js';
import type { MethodOf } from './channels.js';
import type { DeploymentState, DeviceImageState } from './inventory.js';
import type { JobInfo } from './jobs.js';

const text = z.string().trim().min(1, 'must not be empty').max(256, 'is longer than 256 characters');

export const deploymentsRequests = {
  create: z
    .object({
      /** the IoT Edge deployment manifest, as JSON text */
      manifestJson: z.string().min(2).max(4 << 20, 'is larger than 4 MiB'),
      name: text,
      devices: z.array(text).min(1).max(10_000).optional(),
      group: text.optional(),
      orderedBy: z.object({ name: text, email: text.regex(/^[^@\s]+@[^@\s]+$/, 'is not an email address') }).strict(),
      priority: z.number().int('must be a whole number').min(-1000).max(1000).default(0),
      dueAt: z.string().datetime({ offset: true, message: 'is not an ISO date-time' }).nullable().default(null),
    })
    .strict()
    .refine((r) => !r.devices !== !r.group, 'give either devices or group'),
  build: z.object({ id: z.number().int().positive(), key: z.string().min(1).max(4096) }).strict(),
  show: z.object({ id: z.number().int().positive() }).strict(),
  plan: z.object({ id: z.number().int().positive() }).strict(),
  /** a manifest file main reads: a path typed in the app (absolute, or relative to where main runs) */
  openManifest: z.object({ path: z.string().trim().min(1, 'give the manifest file’s path').max(4096) }).strict(),
  /** the desktop app's file picker; the console has none (type a path or upload the file there) */
  pickManifest: z.object({}).strict(),
} satisfies Record<MethodOf<'deployments'>, z.ZodTypeAny>;

export interface ImageRef {
  ref: string;
  configDigest: string | null;
}

export interface BuiltBundle {
  bundleId: string;
  sha256: string;
  size: number;
  version: number;
  base: string | null;
  target: string;
  targetDigest: string;
  devices: string[];
  /** false when an earlier build of the same (base, target) pair was reused */
  built: boolean;
  verified: 'rebuilt-from-base' | 'rebuilt-at-build' | 'earlier-build';
}

export interface BuildReport {
  deployment: number;
  /** true: every image is already on (or on its way to) every device, and nothing was built */
  upToDate: boolean;
  bundles: BuiltBundle[];
}

export interface DeviceBundle {
  deviceId: string;
  bundleId: string;
  position: number;
  size: number;
  sha256: string;
  version: number;
  target: { ref: string; configDigest: string };
  base: ImageRef | null;
  imageState: DeviceImageState | null;
}

export interface DeploymentView {
  id: number;
  name: string;
  state: DeploymentState;
  orderedBy: { name: string; email: string };
  priority: number;
  dueAt: string | null;
  createdAt: string;
  devices: string[];
  gate: { ready: boolean; devices: Array<{ deviceId: string; missing: string[] }> };
  bundles: DeviceBundle[];
}

type In<M extends keyof typeof deploymentsRequests> = z.input<(typeof deploymentsRequests)[M]>;

/** A manifest file main read and checked (an IoT Edge deployment manifest). */
export interface ManifestFile {
  name: string;
  path: string;
  text: string;
  /** modules it names, system modules included */
  modules: number;
}

export interface DeploymentsApi {
  create(req: In<'create'>): Promise<{ id: number }>;
  /** starts building as a job; its result is the BuildReport */
  build(req: In<'build'>): Promise<JobInfo>;
  show(req: In<'show'>): Promise<DeploymentView>;
  /** what each device needs as the inventory stands now: present, in transit or missing, the chosen base, estimated bytes; the distinct bundles */
  plan(req: In<'plan'>): Promise<Plan>;
  openManifest(req: In<'openManifest'>): Promise<ManifestFile>;
  /** null when the engineer closed the picker */
  pickManifest(req?: In<'pickManifest'>): Promise<ManifestFile | null>;
}
