// The `usb` bridge namespace: export and import run as jobs (progress, cancel; the report is the
// job's result), receipts and key enrolment answer directly. Requests arrive parsed (contract/usb.ts).
import type { JobInfo, UsbApi } from '../../contract/index.js';
import type { Jobs } from '../jobs/service.js';
import type { UsbExporter } from './export.js';
import type { UsbImporter } from './import.js';
import type { ReceiptIntake } from './receipts.js';

type Req<M extends keyof UsbApi> = Parameters<UsbApi[M]>[0];

export class UsbBridge implements UsbApi {
  constructor(
    private readonly exporter: UsbExporter,
    private readonly importer: UsbImporter,
    private readonly intake: ReceiptIntake,
    private readonly jobs: Jobs,
  ) {}

  async export(req: Req<'export'>): Promise<JobInfo> {
    const job = this.jobs.start('usb-export', `Export deployment ${req.deployment} to ${req.to.join(', ')}`, req, ({ signal, progress }) =>
      this.exporter.export(req, { signal, onProgress: (d, t) => progress(d, t, 'writing and reading back') }),
      // One writer per stick directory.
      { exclusive: `usb:${req.to[0]}` },
    );
    return job.info();
  }

  async import(req: Req<'import'>): Promise<JobInfo> {
    const devices = Object.keys({ ...req.apply, ...req.inbox });
    const title = req.dryRun || devices.length === 0 ? `Verify stick ${req.dir}` : `Apply from ${req.dir} to ${devices.join(', ')}`;
    // What was asked, for the job history: the devices, where to, and which may use plain HTTP.
    const params = { dir: req.dir, dryRun: req.dryRun ?? false, apply: req.apply ?? {}, inbox: req.inbox ?? {}, insecure: req.insecure ?? false };
    const job = this.jobs.start('usb-import', title, params, ({ signal, progress }) =>
      this.importer.import({ dir: req.dir, pubkey: req.pubkey, apply: req.apply ?? {}, inbox: req.inbox ?? {}, dryRun: req.dryRun ?? false, insecure: req.insecure ?? false }, { signal, onProgress: (d, t, stage) => progress(d, t, stage ?? 'verifying') }),
      { exclusive: `usb:${req.dir}`, unit: 'bytes' },
    );
    return job.info();
  }

  async receipts(req: Req<'receipts'>) {
    return this.intake.take(req.dir);
  }

  async trustKey(req: Req<'trustKey'>) {
    return this.intake.trust(req.file, { ...(req.deviceId ? { deviceId: req.deviceId } : {}), ...(req.label ? { label: req.label } : {}) });
  }
}
