// The `deployments` bridge namespace over DeploymentService: requests arrive parsed by the
// contract's schemas (contract/deployments.ts).
import type { DeploymentsApi } from '../../contract/index.js';
import type { DeploymentService } from './service.js';

type Req<M extends keyof DeploymentsApi> = Parameters<DeploymentsApi[M]>[0];

export class DeploymentsBridge implements DeploymentsApi {
  constructor(private readonly service: DeploymentService) {}

  async create(req: Req<'create'>) {
    return { id: this.service.create({ ...req, priority: req.priority ?? 0, dueAt: req.dueAt ?? null }) };
  }

  async build(req: Req<'build'>) {
    const { plan: _plan, ...summary } = await this.service.build(req.id, req.key);
    return summary;
  }

  async show(req: Req<'show'>) {
    return this.service.show(req.id);
  }
}
