// The supervisor's dashboards, read-only and offline: deployment state, images per device, devices
// per image, transfers per day (succeeded/failed), deployments by who ordered them, bytes sent
// against full image sizes (the saving), sync history. Figures come from main (reports.dashboard);
// every table filters and exports what it shows as CSV.
import { useEffect } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { Dashboard, DeploymentStateRow, DevicesPerImage, ImagesPerDevice, OrdererRow, SavingRow, SyncEntry } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { resourceStore } from '../../app/resource.js';
import { useSession } from '../../app/session.js';
import { DataTable, type Column } from '../../ui/DataTable.js';
import { bytes, timestamp } from '../../ui/format.js';
import { Badge, ErrorBanner, Section, Stat } from '../../ui/parts.js';

export const useDashboard = resourceStore<Dashboard, { days: number }>({ days: 30 }, (p) => api().reports.dashboard(p));

const DEPLOYMENTS: Array<Column<DeploymentStateRow>> = [
  { key: 'name', label: 'Deployment', value: (d) => d.name },
  { key: 'state', label: 'State', value: (d) => d.state, render: (d) => <Badge state={d.state} /> },
  { key: 'by', label: 'Ordered by', value: (d) => d.orderedBy },
  { key: 'devices', label: 'Devices', value: (d) => d.devices, numeric: true },
  { key: 'ready', label: 'Ready', value: (d) => d.devicesReady, numeric: true },
  { key: 'pushed', label: 'Pushed', value: (d) => d.devicesPushed, numeric: true },
  { key: 'updated', label: 'Updated', value: (d) => timestamp(d.updatedAt) },
];
const PER_DEVICE: Array<Column<ImagesPerDevice>> = [
  { key: 'device', label: 'Device', value: (d) => d.deviceId },
  { key: 'name', label: 'Name', value: (d) => d.displayName },
  { key: 'group', label: 'Group', value: (d) => d.group },
  { key: 'on', label: 'On board', value: (d) => d.onBoard, numeric: true },
  { key: 'transit', label: 'In transit', value: (d) => d.inTransit, numeric: true },
  { key: 'failed', label: 'Failed', value: (d) => d.failed, numeric: true },
];
const PER_IMAGE: Array<Column<DevicesPerImage>> = [
  { key: 'image', label: 'Image', value: (i) => i.image },
  { key: 'digest', label: 'Config digest', value: (i) => i.configDigest || null },
  { key: 'on', label: 'Devices with it', value: (i) => i.onBoard, numeric: true },
  { key: 'transit', label: 'In transit', value: (i) => i.inTransit, numeric: true },
  { key: 'failed', label: 'Failed', value: (i) => i.failed, numeric: true },
];
const ORDERERS: Array<Column<OrdererRow>> = [
  { key: 'name', label: 'Ordered by', value: (o) => o.name },
  { key: 'email', label: 'Email', value: (o) => o.email },
  { key: 'total', label: 'Deployments', value: (o) => o.total, numeric: true },
  { key: 'pushed', label: 'Pushed', value: (o) => o.pushed, numeric: true },
  { key: 'open', label: 'Open', value: (o) => o.open, numeric: true },
];
const SAVINGS: Array<Column<SavingRow>> = [
  { key: 'image', label: 'Image', value: (s) => s.image },
  { key: 'transfers', label: 'Transfers', value: (s) => s.transfers, numeric: true },
  { key: 'sent', label: 'Bytes sent', value: (s) => s.bytesSent, numeric: true, render: (s) => <span title={`${s.bytesSent} B`}>{bytes(s.bytesSent)}</span> },
  { key: 'full', label: 'Full images', value: (s) => s.fullImageBytes, numeric: true, render: (s) => <span title={`${s.fullImageBytes} B`}>{bytes(s.fullImageBytes)}</span> },
  { key: 'saved', label: 'Saved', value: (s) => (s.fullImageBytes > 0 ? `${Math.round(100 * (1 - s.bytesSent / s.fullImageBytes))}%` : null), numeric: true },
];
const SYNC: Array<Column<SyncEntry>> = [
  { key: 'at', label: 'When', value: (s) => timestamp(s.at) },
  { key: 'source', label: 'Source', value: (s) => s.source },
  { key: 'summary', label: 'Summary', value: (s) => s.summary },
  { key: 'changes', label: 'Changes', value: (s) => s.changes, numeric: true },
  { key: 'conflicts', label: 'Conflicts', value: (s) => s.conflicts, numeric: true },
];

function Totals({ d }: { d: Dashboard }) {
  const sent = d.savings.reduce((n, s) => n + s.bytesSent, 0);
  const full = d.savings.reduce((n, s) => n + s.fullImageBytes, 0);
  const ok = d.transfersPerDay.reduce((n, t) => n + t.succeeded, 0);
  const bad = d.transfersPerDay.reduce((n, t) => n + t.failed, 0);
  const open = d.deployments.filter((x) => !['pushed', 'cancelled'].includes(x.state)).length;
  return (
    <div className="stats" data-testid="dashboard-totals">
      <Stat label="Deployments" value={<span data-figure="deployments">{d.deployments.length}</span>} sub={`${open} open`} />
      <Stat label="Transfers ok" value={<span data-figure="succeeded">{ok}</span>} sub={`last ${d.transfersPerDay.length} days`} />
      <Stat label="Transfers failed" value={<span data-figure="failed">{bad}</span>} tone={bad ? 'bad' : undefined} sub={`last ${d.transfersPerDay.length} days`} />
      <Stat label="Bytes sent" value={<span data-figure="sent">{bytes(sent)}</span>} sub={`of ${bytes(full)} as full images`} />
      <Stat label="Saved" value={<span data-figure="saved">{full > 0 ? `${Math.round(100 * (1 - sent / full))}%` : '—'}</span>} sub="against sending full images" />
    </div>
  );
}

export function DashboardsView() {
  const refreshes = useSession((s) => s.refreshes);
  const dash = useDashboard();
  const load = dash.load;
  useEffect(() => {
    void load();
  }, [refreshes, load]);
  const d = dash.data;
  return (
    <div className="page">
      <ErrorBanner error={dash.error} />
      {d && (
        <>
          <Totals d={d} />
          <div className="charts">
            <Section title="Transfers per day">
              <div className="chart-box" role="img" aria-label={`Transfers per day: ${d.transfersPerDay.reduce((n, t) => n + t.succeeded, 0)} succeeded, ${d.transfersPerDay.reduce((n, t) => n + t.failed, 0)} failed`}>
                <ResponsiveContainer width="100%" height="100%">
                  <BarChart data={d.transfersPerDay} margin={{ top: 8, right: 8, bottom: 0, left: -16 }}>
                    <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e1e6ec" />
                    <XAxis dataKey="day" tickFormatter={(v: string) => v.slice(5)} fontSize={11} minTickGap={16} />
                    <YAxis allowDecimals={false} fontSize={11} />
                    <Tooltip />
                    <Legend wrapperStyle={{ fontSize: 12 }} />
                    <Bar dataKey="succeeded" stackId="t" fill="#3f8f63" name="succeeded" isAnimationActive={false} />
                    <Bar dataKey="failed" stackId="t" fill="#c44d4d" name="failed" isAnimationActive={false} />
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </Section>
            <Section title="Bytes sent vs full image size">
              <div className="chart-box" role="img" aria-label="Bytes sent against full image sizes, per image">
                <ResponsiveContainer width="100%" height="100%">
                  <BarChart data={d.savings} margin={{ top: 8, right: 8, bottom: 0, left: 8 }}>
                    <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e1e6ec" />
                    <XAxis dataKey="image" fontSize={11} tickFormatter={(v: string) => v.split('/').pop() ?? v} />
                    <YAxis fontSize={11} tickFormatter={(v: number) => bytes(v)} width={64} />
                    <Tooltip formatter={(v) => bytes(Number(v))} />
                    <Legend wrapperStyle={{ fontSize: 12 }} />
                    <Bar dataKey="bytesSent" fill="#1f6fd1" name="bytes sent" isAnimationActive={false} />
                    <Bar dataKey="fullImageBytes" fill="#a8b6c6" name="full images" isAnimationActive={false} />
                  </BarChart>
                </ResponsiveContainer>
              </div>
            </Section>
          </div>
          <Section title="State of each deployment">
            <DataTable name="deployments" caption="deployment states" rows={d.deployments} columns={DEPLOYMENTS} rowKey={(r) => String(r.id)} empty="No deployments yet." />
          </Section>
          <Section title="Deployments by who ordered them">
            <DataTable name="orderers" caption="deployments by orderer" rows={d.byOrderer} columns={ORDERERS} rowKey={(r) => r.email + r.name} />
          </Section>
          <Section title="Bytes sent vs full image size">
            <DataTable name="savings" caption="bytes saved" rows={d.savings} columns={SAVINGS} rowKey={(r) => r.image} empty="No transfer has succeeded yet." />
          </Section>
          <Section title="Images per device">
            <DataTable name="images-per-device" caption="images per device" rows={d.imagesPerDevice} columns={PER_DEVICE} rowKey={(r) => r.deviceId} />
          </Section>
          <Section title="Devices per image">
            <DataTable name="devices-per-image" caption="devices per image" rows={d.devicesPerImage} columns={PER_IMAGE} rowKey={(r) => r.image + r.configDigest} />
          </Section>
          <Section title="Sync history">
            <DataTable name="sync-history" caption="sync history" rows={d.syncHistory} columns={SYNC} rowKey={(r) => String(r.id)} />
          </Section>
        </>
      )}
    </div>
  );
}
