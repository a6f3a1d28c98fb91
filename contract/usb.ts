// `usb`: bundles onto sticks, applied on board, receipts back (docs/usb.md). Export and import are
// long: they start jobs and answer with the job; their reports are the jobs' results.
import { z } from 'zod';
import type { MethodOf } from './channels.js';
import type { JobInfo } from './jobs.js';

const path = z.string().min(1, 'must not be empty').max(4096, 'is longer than 4096 characters');
const id = z.string().trim().min(1).max(128);

export const usbRequests = {
  export: z
    .object({
      deployment: z.number().int().positive(),
      /** the sticks' directories, in stick order */
      to: z.array(path).min(1).max(99),
      devices: z.array(id).min(1).max(10_000).optional(),
      mediaSize: z.number().int().positive().optional(),
      stick: z.number().int().min(1).max(999).optional(),
      /** the bundle signing key file */
      key: path,
    })
    .strict(),
  import: z
    .object({
      dir: path,
      pubkey: path,
      apply: z.record(id, z.string().regex(/^docker:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/, 'want docker://HOST:PORT')).default({}),
      inbox: z.record(id, path).default({}),
      dryRun: z.boolean().default(false),
      /**
       * plain HTTP to device registries that are not on loopback (the ship LAN): true for every
       * device's registry, as `--insecure`, or the ids of the devices whose registries need it
       */
      insecure: z.union([z.boolean(), z.array(id).max(10_000)]).default(false),
    })
    .strict(),
  receipts: z.object({ dir: path }).strict(),
  trustKey: z.object({ file: path, deviceId: id.optional(), label: z.string().max(256).optional() }).strict(),
} satisfies Record<MethodOf<'usb'>, z.ZodTypeAny>;

export interface ReceiptsResult {
  taken: Array<{ file: string; deviceId: string; bundleId: string | null; result: 'applied' | 'failed'; reason: string | null; signer: string; keySource: 'twin' | 'enrolled' | 'own' }>;
  refused: Array<{ file: string; code: string; detail: string }>;
}

type In<M extends keyof typeof usbRequests> = z.input<(typeof usbRequests)[M]>;

export interface UsbApi {
  export(req: In<'export'>): Promise<JobInfo>;
  import(req: In<'import'>): Promise<JobInfo>;
  receipts(req: In<'receipts'>): Promise<ReceiptsResult>;
  trustKey(req: In<'trustKey'>): Promise<{ keyId: string; added: boolean }>;
}

/** The result of a usb.import job: what the stick carries per device and, unless a dry run, what was done. */
export interface UsbImportReport {
  set: string;
  stick: { number: number; of: number };
  deployment: { id: number; name: string };
  ignored: string[];
  devices: Array<{
    deviceId: string;
    action: 'apply' | 'inbox' | 'none';
    via: string | null;
    bundles: Array<{ bundleId: string; version: number; target: string; base: string | null; outcome: string; detail?: string; receipt?: string }>;
  }>;
  receiptKey: string | null;
}
