// The `deployments` bridge namespace over DeploymentService: requests arrive parsed by the
// contract's schemas (contract/deployments.ts).
import type { DeploymentsApi, JobInfo, ManifestFile } from '../../contract/index.js';
import type { Jobs } from '../jobs/service.js';
import { readManifestFile } from './manifest-file.js';
import type { DeploymentService } from './service.js';

type Req<M extends keyof DeploymentsApi> = Parameters<DeploymentsApi[M]>[0];

export class DeploymentsBridge implements DeploymentsApi {
  constructor(
    private readonly service: DeploymentService,
    private readonly jobs: Jobs,
    /** the desktop shell's file picker (a path, or null when closed); the console has none */
    private readonly pickFile?: () => Promise<string | null>,
  ) {}

  async create(req: Req<'create'>) {
    return { id: this.service.create({ ...req, priority: req.priority ?? 0, dueAt: req.dueAt ?? null }) };
  }

  /** Starts the build as a job (one per deployment at a time); the BuildReport is the job's result. */
  async build(req: Req<'build'>): Promise<JobInfo> {
    const name = this.service.show(req.id).name;
    const job = this.jobs.start(
      'bundle-build',
      `Build bundles for ${name}`,
      { deployment: req.id },
      async ({ signal, progress }) => {
        const { plan: _plan, ...summary } = await this.service.build(req.id, req.key, { signal, onProgress: (done, total) => progress(done, total, 'building and verifying') });
        return summary;
      },
      { exclusive: `deployment:${req.id}`, unit: 'items' },
    );
    return job.info();
  }

  async show(req: Req<'show'>) {
    return this.service.show(req.id);
  }

  async plan(req: Req<'plan'>) {
    return this.service.plan(req.id);
  }

  async openManifest(req: Req<'openManifest'>): Promise<ManifestFile> {
    return readManifestFile(req.path);
  }

  async pickManifest(): Promise<ManifestFile | null> {
    if (!this.pickFile) throw new Error('the console has no file picker: type the manifest’s path, or upload the file');
    const path = await this.pickFile();
    return path === null ? null : readManifestFile(path);
  }
}
