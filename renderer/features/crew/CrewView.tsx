// The crew's view, offline: open a USB stick (everything on it is verified first), see per device
// what it carries, give each device's registry on the ship LAN, apply with progress; receipts go
// onto the stick for the shore. Nothing here needs a network beyond the LAN.
import { useState } from 'react';
import type { UsbImportReport as StickReport } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { errorMessage } from '../../app/resource.js';
import { Badge, ErrorBanner, Section } from '../../ui/parts.js';
import { JobProgress } from '../jobs/JobProgress.js';
import { useJobs } from '../jobs/store.js';

const STICK_KEY = 'lighter.crew.stick';
const PUBKEY_KEY = 'lighter.crew.pubkey';
const TARGETS_KEY = 'lighter.crew.targets';

function remembered(): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(TARGETS_KEY) ?? '{}') as Record<string, string>;
  } catch {
    return {};
  }
}

export function CrewView() {
  const [dir, setDir] = useState(() => localStorage.getItem(STICK_KEY) ?? '');
  const [pubkey, setPubkey] = useState(() => localStorage.getItem(PUBKEY_KEY) ?? '');
  const [openId, setOpenId] = useState<number | null>(null);
  const [applyId, setApplyId] = useState<number | null>(null);
  const [targets, setTargets] = useState<Record<string, string>>(remembered);
  const [error, setError] = useState<string | null>(null);
  const put = useJobs((s) => s.put);
  const byId = useJobs((s) => s.byId);
  const opened = openId !== null ? byId[openId] : undefined;
  const opening = opened?.state === 'running';
  const stick = opened?.state === 'succeeded' ? (opened.result as StickReport) : null;
  const job = applyId !== null ? byId[applyId] : undefined;

  const open = async () => {
    setError(null);
    setApplyId(null);
    localStorage.setItem(STICK_KEY, dir);
    localStorage.setItem(PUBKEY_KEY, pubkey);
    try {
      const j = await api().usb.import({ dir: dir.trim(), pubkey: pubkey.trim(), dryRun: true });
      put(j);
      setOpenId(j.id);
    } catch (err) {
      setOpenId(null);
      setError(errorMessage(err));
    }
  };
  const apply = async () => {
    if (!stick) return;
    setError(null);
    const chosen = Object.fromEntries(stick.devices.map((d) => [d.deviceId, (targets[d.deviceId] ?? '').trim()]).filter(([, v]) => v));
    localStorage.setItem(TARGETS_KEY, JSON.stringify({ ...remembered(), ...chosen }));
    try {
      const j = await api().usb.import({ dir: dir.trim(), pubkey: pubkey.trim(), apply: chosen });
      put(j);
      setApplyId(j.id);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const result = job?.state === 'succeeded' ? (job.result as StickReport) : null;

  return (
    <div className="page">
      <ErrorBanner error={error ?? (opened?.state === 'failed' ? opened.error : null)} />
      <Section title="Open a USB stick">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void open();
          }}
        >
          <div className="form-grid">
            <label htmlFor="stick-dir">Stick folder</label>
            <input id="stick-dir" className="mono" value={dir} onChange={(e) => setDir(e.target.value)} placeholder="/media/LIGHTER" />
            <label htmlFor="stick-pubkey">Bundle public key</label>
            <input id="stick-pubkey" className="mono" value={pubkey} onChange={(e) => setPubkey(e.target.value)} placeholder="/etc/lighter/lighter-bundle.pub" />
          </div>
          <div className="form-actions">
            <button type="submit" className="button button-primary" disabled={!dir.trim() || !pubkey.trim() || opening}>
              {opening ? 'Verifying…' : 'Open stick'}
            </button>
            <span className="muted">The index, its signature and every file are checked before anything is shown.</span>
          </div>
        </form>
      </Section>
      {stick && (
        <Section title={`Deployment ${stick.deployment.name} · stick ${stick.stick.number} of ${stick.stick.of}`}>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void apply();
            }}
          >
            <table className="grid" aria-label="Devices on this stick">
              <thead>
                <tr>
                  <th>Device</th>
                  <th>Needs</th>
                  <th>Registry on the LAN</th>
                </tr>
              </thead>
              <tbody>
                {stick.devices.map((d) => (
                  <tr key={d.deviceId} data-stick-device={d.deviceId}>
                    <td className="primary">{d.deviceId}</td>
                    <td>
                      <ul className="plain">
                        {d.bundles.map((b) => (
                          <li key={b.bundleId}>
                            <span className="mono">{b.target}</span> <span className="muted">from {b.base ?? 'nothing (full image)'}</span> <Badge state={b.outcome} />
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td>
                      <input
                        aria-label={`Registry of ${d.deviceId}`}
                        className="mono"
                        value={targets[d.deviceId] ?? ''}
                        onChange={(e) => setTargets({ ...targets, [d.deviceId]: e.target.value })}
                        placeholder="docker://192.168.1.20:5000"
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="form-actions pad-top">
              <button type="submit" className="button button-primary" disabled={job?.state === 'running' || !stick.devices.some((d) => (targets[d.deviceId] ?? '').trim())}>
                Apply to devices
              </button>
              {stick.ignored.length > 0 && <span className="muted">Ignored on the stick: {stick.ignored.join(', ')}</span>}
            </div>
          </form>
        </Section>
      )}
      {job && (
        <Section title="Apply">
          <JobProgress job={job} />
          {result && (
            <table className="grid compact" aria-label="Apply results">
              <thead>
                <tr>
                  <th>Device</th>
                  <th>Image</th>
                  <th>Outcome</th>
                  <th>Receipt</th>
                </tr>
              </thead>
              <tbody>
                {result.devices.flatMap((d) =>
                  d.bundles.map((b) => (
                    <tr key={`${d.deviceId}:${b.bundleId}`} data-result-device={d.deviceId}>
                      <td>{d.deviceId}</td>
                      <td className="mono">{b.target}</td>
                      <td>
                        <Badge state={b.outcome} /> {b.detail && <span className="error-text">{b.detail}</span>}
                      </td>
                      <td className="mono">{b.receipt ?? '—'}</td>
                    </tr>
                  )),
                )}
              </tbody>
            </table>
          )}
        </Section>
      )}
    </div>
  );
}
