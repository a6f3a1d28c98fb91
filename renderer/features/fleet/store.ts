// Fleet screen data: the status summary, the device list with its filters, the selected device.
import type { DeviceDetail, DeviceList, StatusSummary } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { resourceStore } from '../../app/resource.js';

export interface DeviceFilters {
  group: string;
  vessel: string;
  site: string;
  search: string;
}

/** Empty filter fields mean "any"; the contract wants them left out, not empty. */
function present(filters: DeviceFilters): Partial<DeviceFilters> {
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v.trim() !== '')) as Partial<DeviceFilters>;
}

export const useStatus = resourceStore<StatusSummary, object>({}, () => api().inventory.status());

export const useDevices = resourceStore<DeviceList, DeviceFilters>({ group: '', vessel: '', site: '', search: '' }, (f) => api().inventory.devices(present(f)));

export const useDevice = resourceStore<DeviceDetail | null, { id: string | null }>({ id: null }, (p) =>
  p.id ? api().inventory.device({ id: p.id }) : Promise.resolve(null),
);

/** A route loader: starts the fleet's loads; the view's own loads then wait for these. */
export function prefetchFleet(): null {
  void useStatus.getState().prefetch();
  void useDevices.getState().prefetch();
  return null;
}
