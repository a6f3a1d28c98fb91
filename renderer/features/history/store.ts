// History screen data: imports from IoT Hub and USB receipts, and the audit log of user actions.
import type { AuditEntry, SyncEntry } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { resourceStore } from '../../app/resource.js';

export const useSyncHistory = resourceStore<SyncEntry[], object>({}, () => api().inventory.syncHistory({ limit: 200 }));

export const useAuditLog = resourceStore<AuditEntry[], { actor: string }>({ actor: '' }, (p) =>
  api().inventory.auditLog(p.actor.trim() ? { actor: p.actor.trim(), limit: 200 } : { limit: 200 }),
);
