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
    const job = this.jobs.start('usb-import', `Import ${req.dir}`, { dir: req.dir }, ({ signal, progress }) =>
      this.importer.import({ dir: req.dir, pubkey: req.pubkey, apply: req.apply ?? {}, inbox: req.inbox ?? {}, dryRun: req.dryRun ?? false, insecure: req.insecure ?? false }, { signal, onProgress: (d, t) => progress(d, t, 'verifying') }),
      { exclusive: `usb:${req.dir}` },
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
