// Fleet overview: the summary tiles, devices by vessel with their image state, and the detail
// drawer of the selected device.
import { useEffect } from 'react';
import type { DeviceRow, StatusSummary } from '../../../contract/index.js';
import { useSession } from '../../app/session.js';
import { count, relativeTime } from '../../ui/format.js';
import { Badge, Cmd, Empty, ErrorBanner, Section, Stat } from '../../ui/parts.js';
import { DeviceDrawer } from './DeviceDrawer.js';
import { useDevice, useDevices, useStatus, type DeviceFilters } from './store.js';

function StatusTiles({ s }: { s: StatusSummary }) {
  const open = s.deployments.draft + s.deployments.planned + s.deployments.transferring + s.deployments.ready;
  return (
    <div className="stats">
      <Stat label="Devices" value={s.devices} sub={`${s.edgeDevices} IoT Edge · ${count(s.groups, 'group')}`} />
      <Stat label="Images tracked" value={s.images} sub={`${s.deviceImages.present + s.deviceImages.applied} on devices`} />
      <Stat label="In transit" value={s.deviceImages.in_transit} tone={s.deviceImages.in_transit ? 'info' : undefined} sub="images on their way" />
      <Stat label="Failed images" value={s.deviceImages.failed} tone={s.deviceImages.failed ? 'bad' : undefined} sub={count(s.transfers.failed, 'failed transfer')} />
      <Stat label="Open deployments" value={open} sub={`${s.deployments.ready} ready to push`} />
      <Stat label="Last sync" value={s.lastSync ? relativeTime(s.lastSync.at) : 'never'} sub={s.lastSync?.summary ?? 'no import yet'} />
    </div>
  );
}

function Filters({ facets, filters, onChange }: { facets: { groups: string[]; vessels: string[]; sites: string[] }; filters: DeviceFilters; onChange(f: Partial<DeviceFilters>): void }) {
  const select = (key: 'group' | 'vessel' | 'site', label: string, options: string[]) => (
    <label className="filter">
      <span>{label}</span>
      <select aria-label={label} value={filters[key]} onChange={(e) => onChange({ [key]: e.target.value })}>
        <option value="">All</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <div className="filters">
      {select('group', 'Group', facets.groups)}
      {select('vessel', 'Vessel', facets.vessels)}
      {select('site', 'Site', facets.sites)}
      <label className="filter filter-grow">
        <span>Search</span>
        <input type="search" placeholder="device id or name" aria-label="Search devices" value={filters.search} onChange={(e) => onChange({ search: e.target.value })} />
      </label>
    </div>
  );
}

function ImageCounts({ d }: { d: DeviceRow }) {
  const states = (['present', 'applied', 'in_transit', 'failed'] as const).filter((s) => d.images[s] > 0);
  if (states.length === 0) return <span className="muted">none known</span>;
  return (
    <span className="badges">
      {states.map((s) => (
        <Badge key={s} state={s} count={d.images[s]} />
      ))}
    </span>
  );
}

function DeviceTable({ devices, selected, onSelect }: { devices: DeviceRow[]; selected: string | null; onSelect(id: string): void }) {
  const byVessel = new Map<string, DeviceRow[]>();
  for (const d of devices) {
    const key = d.vessel ?? d.site ?? 'No vessel or site';
    byVessel.set(key, [...(byVessel.get(key) ?? []), d]);
  }
  return (
    <table className="grid">
      <thead>
        <tr>
          <th>Device</th>
          <th>Site</th>
          <th>Group</th>
          <th>Connection</th>
          <th>Last seen</th>
          <th>Images</th>
        </tr>
      </thead>
      {[...byVessel].map(([vessel, rows]) => (
        <tbody key={vessel}>
          <tr className="group-row">
            <th colSpan={6}>
              {vessel} <span className="muted">· {count(rows.length, 'device')}</span>
            </th>
          </tr>
          {rows.map((d) => (
            <tr key={d.id} className={`clickable${selected === d.id ? ' selected' : ''}`} onClick={() => onSelect(d.id)} data-device={d.id}>
              <td>
                <div className="primary">
                  {d.displayName ?? d.id} {d.isEdge && <span className="tag">edge</span>}
                </div>
                {d.displayName && <div className="mono muted">{d.id}</div>}
              </td>
              <td>{d.site ?? '—'}</td>
              <td>{d.group ?? '—'}</td>
              <td>{d.connectionState ? <Badge state={d.connectionState} /> : '—'}</td>
              <td title={d.lastSeen ?? ''}>{relativeTime(d.lastSeen)}</td>
              <td>
                <ImageCounts d={d} />
              </td>
            </tr>
          ))}
        </tbody>
      ))}
    </table>
  );
}

export function FleetView() {
  const refreshes = useSession((s) => s.refreshes);
  const status = useStatus();
  const devices = useDevices();
  const device = useDevice();
  useEffect(() => {
    void status.load();
    void devices.load();
    if (device.params.id) void device.load();
    // reload on mount and on refresh only; filters reload through the store
  }, [refreshes]);

  const empty = status.data?.devices === 0;
  return (
    <div className="with-drawer">
      <div className="page">
        <ErrorBanner error={status.error ?? devices.error} />
        {status.data && <StatusTiles s={status.data} />}
        <Section title="Devices" actions={devices.data && <span className="muted">{devices.data.devices.length} shown</span>}>
          {empty ? (
            <Empty title="No devices in the inventory yet">
              Import them from IoT Hub: save <Cmd>az iot hub device-identity list --hub-name HUB</Cmd> to a file, then run{' '}
              <Cmd>lighter db import-devices FILE</Cmd>. Tags carry each device's group, vessel and site.
            </Empty>
          ) : (
            devices.data && (
              <>
                <Filters facets={devices.data.facets} filters={devices.params} onChange={(f) => void devices.load(f)} />
                {devices.data.devices.length === 0 ? (
                  <Empty title="No device matches these filters" />
                ) : (
                  <DeviceTable devices={devices.data.devices} selected={device.params.id} onSelect={(id) => void device.load({ id })} />
                )}
              </>
            )
          )}
        </Section>
      </div>
      {device.params.id && <DeviceDrawer onClose={() => void device.load({ id: null })} />}
    </div>
  );
}
