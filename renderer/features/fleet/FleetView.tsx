// Fleet overview: the summary tiles, devices by vessel with their image state, and the detail
// drawer of the selected device.
import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { DeviceRow, StatusSummary } from '../../../contract/index.js';
import { DEVICE_IMAGE_STATES } from '../../../core/states.js';
import { api } from '../../api/index.js';
import { errorMessage } from '../../app/resource.js';
import { useSession } from '../../app/session.js';
import { count, relativeTime } from '../../ui/format.js';
import { Badge, Cmd, Empty, ErrorBanner, Grid, Section, Stat } from '../../ui/parts.js';
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
  const states = DEVICE_IMAGE_STATES.filter((s) => d.images[s] > 0);
  if (states.length === 0) return <span className="muted">none known</span>;
  return (
    <span className="badges">
      {states.map((s) => (
        <Badge key={s} state={s} count={d.images[s]} />
      ))}
    </span>
  );
}

type Item = { kind: 'group'; vessel: string; n: number } | { kind: 'device'; d: DeviceRow };

/**
 * Devices by vessel, virtualised: only the rows in view are in the page, so 2,000 devices cost what
 * 30 do. Memoised: the view re-renders as each of its loads starts and ends, the list only when
 * its devices or the selection change.
 */
const DeviceTable = memo(function DeviceTable({ devices, selected }: { devices: DeviceRow[]; selected: string | null }) {
  const items = useMemo(() => {
    const byVessel = new Map<string, DeviceRow[]>();
    for (const d of devices) {
      const key = d.vessel ?? d.site ?? 'No vessel or site';
      let list = byVessel.get(key);
      if (!list) byVessel.set(key, (list = []));
      list.push(d);
    }
    const out: Item[] = [];
    for (const [vessel, rows] of byVessel) {
      out.push({ kind: 'group', vessel, n: rows.length });
      for (const d of rows) out.push({ kind: 'device', d });
    }
    return out;
  }, [devices]);
  const scroller = useRef<HTMLDivElement>(null);
  // eslint-disable-next-line react-hooks/incompatible-library -- the virtualizer is read during render by design
  const virtual = useVirtualizer({ count: items.length, getScrollElement: () => scroller.current, estimateSize: (i) => (items[i]!.kind === 'group' ? 30 : 46), overscan: 12 });
  const rows = virtual.getVirtualItems();
  const top = rows[0]?.start ?? 0;
  const bottom = virtual.getTotalSize() - (rows.at(-1)?.end ?? 0);
  return (
    <div className="table-scroll" ref={scroller} data-rows={items.length}>
      <Grid columns={['Device', 'Site', 'Group', 'Connection', 'Last seen', 'Images']}>
        <tbody>
          {top > 0 && <tr aria-hidden="true" style={{ height: top }} />}
          {rows.map((v) => {
            const item = items[v.index]!;
            if (item.kind === 'group') {
              return (
                <tr key={`g:${item.vessel}`} className="group-row" data-index={v.index} ref={virtual.measureElement}>
                  <th colSpan={6} scope="colgroup">
                    {item.vessel} <span className="muted">· {count(item.n, 'device')}</span>
                  </th>
                </tr>
              );
            }
            const d = item.d;
            return (
              <tr key={d.id} className={selected === d.id ? 'selected' : undefined} data-device={d.id} data-index={v.index} ref={virtual.measureElement}>
                <td>
                  <div className="primary">
                    <Link to={`/fleet/${encodeURIComponent(d.id)}`} className="row-link">
                      {d.displayName ?? d.id}
                    </Link>{' '}
                    {d.isEdge && <span className="tag">edge</span>}
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
            );
          })}
          {bottom > 0 && <tr aria-hidden="true" style={{ height: bottom }} />}
        </tbody>
      </Grid>
    </div>
  );
});

/** "Import devices…": a device list file (az iot hub device-identity list JSON) into the inventory. */
function ImportDevices({ onDone }: { onDone(): void }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const pick = async (file: File) => {
    setBusy(true);
    setMessage(null);
    try {
      const r = await api().fleet.importDevices({ filename: file.name, content: await file.text() });
      setMessage({ ok: true, text: `${file.name}: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged${r.conflicts ? `, ${r.conflicts} conflicts with open deployments` : ''}` });
      onDone();
    } catch (err) {
      setMessage({ ok: false, text: errorMessage(err) });
    } finally {
      setBusy(false);
      if (input.current) input.current.value = '';
    }
  };
  return (
    <span className="inline-action">
      {message && (
        <span className={message.ok ? 'ok-text' : 'error-text'} role={message.ok ? 'status' : 'alert'}>
          {message.text}
        </span>
      )}
      <label className={`button${busy ? ' disabled' : ''}`}>
        {busy ? 'Importing…' : 'Import devices…'}
        <input ref={input} type="file" accept=".json,application/json" className="sr-only" aria-label="Import devices from a file" disabled={busy} onChange={(e) => e.target.files?.[0] && void pick(e.target.files[0])} />
      </label>
    </span>
  );
}

export function FleetView() {
  const refreshes = useSession((s) => s.refreshes);
  const { deviceId } = useParams();
  const navigate = useNavigate();
  const status = useStatus();
  const devices = useDevices();
  const device = useDevice();
  const loadStatus = status.load;
  const loadDevices = devices.load;
  const loadDevice = device.load;
  useEffect(() => {
    void loadStatus();
    void loadDevices();
  }, [refreshes, loadStatus, loadDevices]);
  useEffect(() => {
    void loadDevice({ id: deviceId ?? null });
  }, [deviceId, refreshes, loadDevice]);

  const empty = status.data?.devices === 0;
  const reload = () => {
    void loadStatus();
    void loadDevices();
  };
  return (
    <div className="with-drawer">
      <div className="page">
        <ErrorBanner error={status.error ?? devices.error} />
        {status.data && <StatusTiles s={status.data} />}
        <Section
          title="Devices"
          actions={
            <>
              {devices.data && <span className="muted">{devices.data.devices.length} shown</span>}
              <ImportDevices onDone={reload} />
            </>
          }
        >
          {empty ? (
            <Empty title="No devices in the inventory yet">
              Import them from IoT Hub: save <Cmd>az iot hub device-identity list --hub-name HUB</Cmd> to a file and choose <b>Import devices…</b>, or run{' '}
              <Cmd>lighter db import-devices FILE</Cmd>. Tags carry each device's group, vessel and site.
            </Empty>
          ) : (
            devices.data && (
              <>
                <Filters facets={devices.data.facets} filters={devices.params} onChange={(f) => void devices.load(f)} />
                {devices.data.devices.length === 0 ? <Empty title="No device matches these filters" /> : <DeviceTable devices={devices.data.devices} selected={deviceId ?? null} />}
              </>
            )
          )}
        </Section>
      </div>
      {deviceId && <DeviceDrawer onClose={() => void navigate('/fleet')} />}
    </div>
  );
}
