// The session: connecting to main (Electron IPC or the loopback bridge), the app's facts, the role
// chosen on first start (a convenience that picks the home view, not a permission), and a refresh
// counter the screens reload on.
import { create } from 'zustand';
import type { AppInfo } from '../../contract/index.js';
import { connect } from '../api/connect.js';
import { setConnection } from '../api/index.js';
import { errorMessage } from './resource.js';

export type Role = 'shore' | 'crew' | 'supervisor';

export const ROLES: Array<{ id: Role; label: string; home: string; summary: string }> = [
  { id: 'shore', label: 'Shore engineer', home: '/fleet', summary: 'Import the fleet, plan deployments, build bundles, export to USB or upload, push manifests.' },
  { id: 'crew', label: 'Crew', home: '/crew', summary: 'Open a USB stick on board, apply its bundles to the devices on the ship LAN, write receipts. Works offline.' },
  { id: 'supervisor', label: 'Supervisor', home: '/dashboards', summary: 'Read-only dashboards: deployment state, images per device, transfers, savings, sync history. Works offline.' },
];

const ROLE_KEY = 'lighter.role';

function storedRole(): Role | null {
  const v = localStorage.getItem(ROLE_KEY);
  return ROLES.some((r) => r.id === v) ? (v as Role) : null;
}

interface Session {
  status: 'connecting' | 'ready' | 'failed';
  info: AppInfo | null;
  error: string | null;
  role: Role | null;
  refreshes: number;
  start(): Promise<void>;
  chooseRole(role: Role): void;
  refresh(): void;
}

export const useSession = create<Session>((set, get) => ({
  status: 'connecting',
  info: null,
  error: null,
  role: storedRole(),
  refreshes: 0,
  async start() {
    const c = connect();
    if ('error' in c) {
      set({ status: 'failed', error: c.error });
      return;
    }
    setConnection(c.api, c.events);
    try {
      set({ status: 'ready', info: await c.api.app.info() });
    } catch (err) {
      set({ status: 'failed', error: errorMessage(err) });
    }
  },
  chooseRole(role) {
    localStorage.setItem(ROLE_KEY, role);
    set({ role });
  },
  refresh: () => set({ refreshes: get().refreshes + 1 }),
}));

export function homeOf(role: Role | null): string {
  return ROLES.find((r) => r.id === role)?.home ?? '/welcome';
}
