// The window: navigation on the left (by role, every view reachable), the inventory in use, the
// running jobs and a refresh button on top, the routed view below. Views live at URLs
// (#/fleet, #/deployments/3, ...) so they can be linked and reloaded; a hash router because the
// same files load from the bridge and from Electron's file:// page.
import { useEffect } from 'react';
import { createHashRouter, Navigate, NavLink, Outlet, RouterProvider, useMatches, useNavigate } from 'react-router';
import { CrewView } from '../features/crew/CrewView.js';
import { HubView } from '../features/hub/HubView.js';
import { startDesktopNotifications } from '../features/hub/desktop-notifications.js';
import { DashboardsView } from '../features/dashboards/DashboardsView.js';
import { DeploymentsView } from '../features/deployments/DeploymentsView.js';
import { NewDeployment } from '../features/deployments/NewDeployment.js';
import { FleetView } from '../features/fleet/FleetView.js';
import { prefetchFleet } from '../features/fleet/store.js';
import { HistoryView } from '../features/history/HistoryView.js';
import { JobsView } from '../features/jobs/JobsView.js';
import { sortedJobs, useJobs } from '../features/jobs/store.js';
import { TransfersView } from '../features/transfers/TransfersView.js';
import { UploadsView } from '../features/uploads/UploadsView.js';
import { homeOf, ROLES, useSession, type Role } from './session.js';
import { Welcome } from './Welcome.js';

interface Entry {
  path: string;
  label: string;
  title: string;
  roles: Role[];
}

const NAV: Entry[] = [
  { path: '/crew', label: 'USB stick', title: 'Apply from a USB stick', roles: ['crew'] },
  { path: '/hub', label: 'Hub & notifications', title: 'IoT Hub and notifications', roles: ['shore', 'supervisor'] },
  { path: '/dashboards', label: 'Dashboards', title: 'Dashboards', roles: ['supervisor', 'shore'] },
  { path: '/fleet', label: 'Fleet', title: 'Fleet overview', roles: ['shore', 'supervisor'] },
  { path: '/deployments', label: 'Deployments', title: 'Deployments', roles: ['shore', 'supervisor'] },
  { path: '/uploads', label: 'Uploads', title: 'Upload queue', roles: ['shore'] },
  { path: '/transfers', label: 'Transfers', title: 'Transfers', roles: ['shore', 'supervisor'] },
  { path: '/history', label: 'History', title: 'Sync history and audit log', roles: ['supervisor', 'shore'] },
  { path: '/jobs', label: 'Jobs', title: 'Jobs', roles: ['shore', 'crew', 'supervisor'] },
];

function RunningJobs() {
  const byId = useJobs((s) => s.byId);
  const running = sortedJobs(byId).filter((j) => j.state === 'running');
  if (running.length === 0) return null;
  return (
    <NavLink to="/jobs" className="running-pill" aria-label={`${running.length} running job${running.length === 1 ? '' : 's'}`}>
      <span className="spinner" aria-hidden="true" /> {running.length} running
    </NavLink>
  );
}

function Shell() {
  const { info, role, refresh, chooseRole } = useSession();
  const navigate = useNavigate();
  const matches = useMatches();
  const title = (matches.at(-1)?.handle as { title?: string } | undefined)?.title ?? 'Lighter';
  const mine = role ? NAV.filter((n) => n.roles[0] === role || n.roles.includes(role)) : NAV;
  const ordered = [...mine.filter((n) => role && n.roles[0] === role), ...mine.filter((n) => !(role && n.roles[0] === role))];
  const others = NAV.filter((n) => !ordered.includes(n));

  useEffect(() => {
    document.title = `${title} · Lighter`;
  }, [title]);

  return (
    <div className="app">
      <nav className="sidebar" aria-label="Views">
        <div className="brand">
          <img src="./favicon.svg" alt="" width={22} height={22} />
          Lighter
        </div>
        {ordered.map((v) => (
          <NavLink key={v.path} to={v.path} className={({ isActive }) => `nav-item${isActive ? ' active' : ''}`}>
            {v.label}
          </NavLink>
        ))}
        {others.length > 0 && <div className="nav-heading">Other views</div>}
        {others.map((v) => (
          <NavLink key={v.path} to={v.path} className={({ isActive }) => `nav-item${isActive ? ' active' : ''}`}>
            {v.label}
          </NavLink>
        ))}
        <div className="sidebar-foot">
          <label className="role-switch">
            <span>Role</span>
            <select
              aria-label="Role"
              value={role ?? ''}
              onChange={(e) => {
                const r = e.target.value as Role;
                chooseRole(r);
                void navigate(homeOf(r));
              }}
            >
              {!role && <option value="">choose…</option>}
              {ROLES.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.label}
                </option>
              ))}
            </select>
          </label>
          {typeof Notification !== 'undefined' && Notification.permission === 'default' && (
            <button className="button button-small nav-notify" onClick={() => void Notification.requestPermission()}>
              Allow desktop notifications
            </button>
          )}
          {info && (
            <div>
              v{info.version} · {info.shell === 'electron' ? 'desktop' : 'console'}
            </div>
          )}
        </div>
      </nav>
      <main className="content">
        <header className="topbar">
          <h1>{title}</h1>
          <div className="topbar-right">
            <RunningJobs />
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
        <Outlet />
      </main>
    </div>
  );
}

function Home() {
  const role = useSession((s) => s.role);
  return <Navigate to={homeOf(role)} replace />;
}

const router = createHashRouter([
  {
    element: <Shell />,
    children: [
      { index: true, element: <Home /> },
      { path: 'welcome', element: <Welcome />, handle: { title: 'Welcome to Lighter' } },
      {
        path: 'fleet',
        // asked for as the navigation starts, not after the old view is gone and the new one drawn
        loader: prefetchFleet,
        // opening or closing a device's drawer keeps the list
        shouldRevalidate: ({ currentUrl, nextUrl }) => !(currentUrl.pathname.startsWith('/fleet') && nextUrl.pathname.startsWith('/fleet')),
        children: [
          { index: true, element: <FleetView />, handle: { title: 'Fleet overview' } },
          { path: ':deviceId', element: <FleetView />, handle: { title: 'Fleet overview' } },
        ],
      },
      { path: 'deployments', element: <DeploymentsView />, handle: { title: 'Deployments' } },
      { path: 'deployments/new', element: <NewDeployment />, handle: { title: 'New deployment' } },
      { path: 'deployments/:deploymentId', element: <DeploymentsView />, handle: { title: 'Deployments' } },
      { path: 'uploads', element: <UploadsView />, handle: { title: 'Upload queue' } },
      { path: 'transfers', element: <TransfersView />, handle: { title: 'Transfers' } },
      { path: 'history', element: <HistoryView />, handle: { title: 'Sync history and audit log' } },
      { path: 'jobs', element: <JobsView />, handle: { title: 'Jobs' } },
      { path: 'dashboards', element: <DashboardsView />, handle: { title: 'Dashboards' } },
      { path: 'crew', element: <CrewView />, handle: { title: 'Apply from a USB stick' } },
      { path: 'hub', element: <HubView />, handle: { title: 'IoT Hub and notifications' } },
      { path: '*', element: <Home /> },
    ],
  },
]);

export function App() {
  const { status, error, start } = useSession();
  const follow = useJobs((s) => s.follow);
  useEffect(() => {
    void start();
  }, [start]);
  useEffect(() => (status === 'ready' ? follow() : undefined), [status, follow]);
  useEffect(() => (status === 'ready' ? startDesktopNotifications() : undefined), [status]);

  if (status === 'failed') {
    return (
      <div className="fatal" role="alert">
        <h1>Cannot open Lighter</h1>
        <p>{error}</p>
      </div>
    );
  }
  if (status === 'connecting') return <div className="fatal muted">Connecting…</div>;
  return <RouterProvider router={router} />;
}
