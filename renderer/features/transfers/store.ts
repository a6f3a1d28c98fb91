// Transfers screen data: outcomes per day over a window, and the most recent transfers.
import type { TransferDay, TransferRow, TransferState } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { resourceStore } from '../../app/resource.js';

export const usePerDay = resourceStore<TransferDay[], { days: number }>({ days: 30 }, (p) => api().inventory.transfersPerDay(p));

export const useTransfers = resourceStore<TransferRow[], { state: TransferState | '' }>({ state: '' }, (p) =>
  api().inventory.transfers(p.state ? { state: p.state, limit: 200 } : { limit: 200 }),
);
