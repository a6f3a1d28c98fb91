// Deployments screen data: the list (optionally one state) and the selected deployment's detail.
import type { DeploymentDetail, DeploymentRow, DeploymentState } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { resourceStore } from '../../app/resource.js';

export const useDeployments = resourceStore<DeploymentRow[], { state: DeploymentState | '' }>({ state: '' }, (p) =>
  api().inventory.deployments(p.state ? { state: p.state } : {}),
);

export const useDeployment = resourceStore<DeploymentDetail | null, { id: number | null }>({ id: null }, (p) =>
  p.id !== null ? api().inventory.deployment({ id: p.id }) : Promise.resolve(null),
);
