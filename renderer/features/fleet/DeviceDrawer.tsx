// The selected device: identity, tags, the images Lighter knows it has (and how they got there),
// its deployments and transfers.
import { useEffect, useRef } from 'react';
import { bytes, orDash, relativeTime, shortDigest, timestamp } from '../../ui/format.js';
import { Badge, Empty, ErrorBanner, Grid } from '../../ui/parts.js';
import { useDevice } from './store.js';

export function DeviceDrawer({ onClose }: { onClose(): void }) {
  // Escape closes the drawer from anywhere in the page, as a keyboard user expects of a side panel.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onClose]);
  // Focus moves into the drawer when it opens, so a keyboard user lands on what appeared, and back
  // to what opened it (the device's link) when it closes, so they keep their place in the list.
  const closeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    closeButton.current?.focus();
    return () => {
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  const { data: d, error, loading } = useDevice();
  return (
    <aside className="drawer" aria-label="Device detail">
      <header className="drawer-head">
        <div>
          <h2>{d?.displayName ?? d?.id ?? 'Device'}</h2>
          {d && <div className="mono muted">{d.id}</div>}
        </div>
        <button ref={closeButton} className="icon-button" onClick={onClose} aria-label="Close">
          ×
        </button>
      </header>
      <ErrorBanner error={error} />
      {loading && !d && <div className="muted pad">Loading…</div>}
      {d && (
        <div className="drawer-body">
          <dl className="facts">
            <dt>Vessel</dt>
            <dd>{orDash(d.vessel)}</dd>
            <dt>Site</dt>
            <dd>{orDash(d.site)}</dd>
            <dt>Group</dt>
            <dd>{orDash(d.group)}</dd>
            <dt>Hub</dt>
            <dd>{orDash(d.hub)}</dd>
            <dt>Connection</dt>
            <dd>{d.connectionState ? <Badge state={d.connectionState} /> : '—'}</dd>
            <dt>Last seen</dt>
            <dd title={d.lastSeen ?? ''}>{relativeTime(d.lastSeen)}</dd>
          </dl>
          {Object.keys(d.tags).length > 0 && (
            <div className="tags">
              {Object.entries(d.tags).map(([k, v]) => (
                <span key={k} className="tag">
                  {k}={typeof v === 'string' ? v : JSON.stringify(v)}
                </span>
              ))}
            </div>
          )}
          <h3>Images</h3>
          {d.imageList.length === 0 ? (
            <Empty title="No images known on this device">
              Record one with <code className="cmd">lighter db record-image --device {d.id} REF</code>, or sync the device twins.
            </Empty>
          ) : (
            <Grid columns={['Image', 'ID', 'Size', 'State', 'Via', 'Updated']} compact>
              <tbody>
                {d.imageList.map((i) => (
                  <tr key={`${i.repository}:${i.tag}@${i.configDigest}`}>
                    <td className="mono">
                      {i.repository}
                      {i.tag && <span className="muted">:{i.tag}</span>}
                    </td>
                    <td className="mono" title={i.configDigest}>
                      {shortDigest(i.configDigest)}
                    </td>
                    <td className="num">{bytes(i.size)}</td>
                    <td>
                      <Badge state={i.state} />
                    </td>
                    <td>{i.channel ?? '—'}</td>
                    <td>{timestamp(i.updatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </Grid>
          )}
          <h3>Deployments</h3>
          {d.deployments.length === 0 ? (
            <p className="muted">Not targeted by any deployment.</p>
          ) : (
            <ul className="plain">
              {d.deployments.map((dep) => (
                <li key={dep.id}>
                  {dep.name} <Badge state={dep.state} /> {dep.pushedAt && <span className="muted">pushed {timestamp(dep.pushedAt)}</span>}
                </li>
              ))}
            </ul>
          )}
          <h3>Transfers</h3>
          {d.transfers.length === 0 ? (
            <p className="muted">No bundle has been sent to this device.</p>
          ) : (
            <ul className="plain">
              {d.transfers.map((t) => (
                <li key={t.id}>
                  #{t.id} <span className="mono">{shortDigest(t.bundleId)}</span> by {t.channel} <Badge state={t.state} />
                  {t.lastError && <div className="error-text">{t.lastError}</div>}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </aside>
  );
}
