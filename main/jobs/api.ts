// The `jobs` namespace of the contract over the job service: list, look up and cancel. Starting a
// job is each service's own method (bundles.build, usb.export, ...), which answers with the JobInfo.
import type { JobInfo, JobsApi } from '../../contract/jobs.js';
import type { Jobs } from './service.js';

export class JobsApiService implements JobsApi {
  constructor(private readonly jobs: Jobs) {}

  async list(req: { limit?: number; kind?: string } = {}): Promise<JobInfo[]> {
    return this.jobs.list(req.limit ?? 100, req.kind);
  }

  async get(req: { id: number }): Promise<JobInfo> {
    return this.jobs.get(req.id);
  }

  async cancel(req: { id: number }): Promise<JobInfo> {
    return this.jobs.cancel(req.id);
  }
}
