// The session: connecting to main (Electron IPC or the loopback bridge), the app's facts, which
// screen is showing, and a refresh counter the screens reload on.
import { create } from 'zustand';
import type { AppInfo } from '../../contract/index.js';
import { connect } from '../api/connect.js';
import { setApi } from '../api/index.js';
import { errorMessage } from './resource.js';

export type View = 'fleet' | 'deployments' | 'transfers' | 'history';

interface Session {
  status: 'connecting' | 'ready' | 'failed';
  info: AppInfo | null;
  error: string | null;
  view: View;
  refreshes: number;
  start(): Promise<void>;
  navigate(view: View): void;
  refresh(): void;
}

export const useSession = create<Session>((set, get) => ({
  status: 'connecting',
  info: null,
  error: null,
  view: 'fleet',
  refreshes: 0,
  async start() {
    const c = connect();
    if ('error' in c) {
      set({ status: 'failed', error: c.error });
      return;
    }
    setApi(c.api);
    try {
      set({ status: 'ready', info: await c.api.app.info() });
    } catch (err) {
      set({ status: 'failed', error: errorMessage(err) });
    }
  },
  navigate: (view) => set({ view }),
  refresh: () => set({ refreshes: get().refreshes + 1 }),
}));
