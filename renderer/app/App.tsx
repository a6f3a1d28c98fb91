// The window: navigation on the left, the inventory in use and a refresh button on top, the
// selected screen below. A failed connection replaces everything with what to do about it.
import { useEffect } from 'react';
import { DeploymentsView } from '../features/deployments/DeploymentsView.js';
import { FleetView } from '../features/fleet/FleetView.js';
import { HistoryView } from '../features/history/HistoryView.js';
import { TransfersView } from '../features/transfers/TransfersView.js';
import { useSession, type View } from './session.js';

const VIEWS: Array<{ id: View; label: string; title: string }> = [
  { id: 'fleet', label: 'Fleet', title: 'Fleet overview' },
  { id: 'deployments', label: 'Deployments', title: 'Deployments' },
  { id: 'transfers', label: 'Transfers', title: 'Transfers' },
  { id: 'history', label: 'History', title: 'Sync history and audit log' },
];

function Screen({ view }: { view: View }) {
  switch (view) {
    case 'fleet':
      return <FleetView />;
    case 'deployments':
      return <DeploymentsView />;
    case 'transfers':
      return <TransfersView />;
    case 'history':
      return <HistoryView />;
  }
}

export function App() {
  const { status, info, error, view, start, navigate, refresh } = useSession();
  useEffect(() => {
    void start();
  }, [start]);

  if (status === 'failed') {
    return (
      <div className="fatal" role="alert">
        <h1>Cannot open Lighter</h1>
        <p>{error}</p>
      </div>
    );
  }
  if (status === 'connecting') return <div className="fatal muted">Connecting…</div>;

  const current = VIEWS.find((v) => v.id === view)!;
  return (
    <div className="app">
      <nav className="sidebar">
        <div className="brand">
          <img src="./favicon.svg" alt="" width={22} height={22} />
          Lighter
        </div>
        {VIEWS.map((v) => (
          <button key={v.id} className={`nav-item${v.id === view ? ' active' : ''}`} onClick={() => navigate(v.id)} aria-current={v.id === view ? 'page' : undefined}>
            {v.label}
          </button>
        ))}
        <div className="sidebar-foot">
          {info && (
            <div>
              v{info.version} · {info.shell === 'electron' ? 'desktop' : 'console'}
            </div>
          )}
        </div>
      </nav>
      <main className="content">
        <header className="topbar">
          <h1>{current.title}</h1>
          <div className="topbar-right">
            {info && (
              <span className="muted mono" title="inventory database">
                {info.database}
              </span>
            )}
            <button className="button" onClick={refresh}>
              Refresh
            </button>
          </div>
        </header>
        <Screen view={view} />
      </main>
    </div>
  );
}
