// Transfers: outcomes per day (succeeded vs failed) over the last weeks, and the recent transfers
// with progress, attempts and the last error.
import { useEffect } from 'react';
import type { TransferDay, TransferState } from '../../../contract/index.js';
import { TRANSFER_STATES } from '../../../core/states.js';
import { useSession } from '../../app/session.js';
import { bytes, relativeTime, shortDigest } from '../../ui/format.js';
import { Badge, Empty, ErrorBanner, Grid, Section } from '../../ui/parts.js';
import { usePerDay, useTransfers } from './store.js';

const STATES = TRANSFER_STATES;

function PerDayChart({ days }: { days: TransferDay[] }) {
  const max = Math.max(1, ...days.map((d) => d.succeeded + d.failed));
  const total = days.reduce((a, d) => ({ ok: a.ok + d.succeeded, bad: a.bad + d.failed }), { ok: 0, bad: 0 });
  return (
    <div>
      <div className="chart" role="img" aria-label={`${total.ok} succeeded and ${total.bad} failed over ${days.length} days`}>
        {days.map((d) => (
          <div key={d.day} className="chart-col" title={`${d.day}: ${d.succeeded} succeeded, ${d.failed} failed`}>
            <div className="chart-bar chart-bad" style={{ height: `${(100 * d.failed) / max}%` }} />
            <div className="chart-bar chart-ok" style={{ height: `${(100 * d.succeeded) / max}%` }} />
          </div>
        ))}
      </div>
      <div className="chart-axis">
        <span>{days[0]?.day}</span>
        <span>
          <i className="key key-ok" /> {total.ok} succeeded <i className="key key-bad" /> {total.bad} failed
        </span>
        <span>{days[days.length - 1]?.day}</span>
      </div>
    </div>
  );
}

export function TransfersView() {
  const refreshes = useSession((s) => s.refreshes);
  const perDay = usePerDay();
  const list = useTransfers();
  const loadPerday = perDay.load;
  const loadList = list.load;
  useEffect(() => {
    void loadPerday();
    void loadList();
  }, [refreshes, loadPerday, loadList]);

  return (
    <div className="page">
      <ErrorBanner error={perDay.error ?? list.error} />
      <Section
        title="Transfers per day"
        actions={
          <select aria-label="Window" value={perDay.params.days} onChange={(e) => void perDay.load({ days: Number(e.target.value) })}>
            {[14, 30, 90].map((n) => (
              <option key={n} value={n}>
                last {n} days
              </option>
            ))}
          </select>
        }
      >
        {perDay.data && <PerDayChart days={perDay.data} />}
      </Section>
      <Section
        title="Recent transfers"
        actions={
          <select aria-label="Transfer state" value={list.params.state} onChange={(e) => void list.load({ state: e.target.value as TransferState | '' })}>
            <option value="">All states</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        }
      >
        {list.data && list.data.length === 0 ? (
          <Empty title="No transfers yet">Bundles exported to USB or uploaded for a device show up here with their progress.</Empty>
        ) : (
          list.data && (
            <Grid columns={['#', 'Device', 'Bundle', 'Channel', 'State', 'Progress', { label: 'Attempts', num: true }, 'Updated', 'Last error']}>
              <tbody>
                {list.data.map((t) => (
                  <tr key={t.id}>
                    <td className="num">{t.id}</td>
                    <td className="mono">{t.deviceId}</td>
                    <td className="mono" title={t.bundleId}>
                      {shortDigest(t.bundleId)}
                    </td>
                    <td>{t.channel}</td>
                    <td>
                      <Badge state={t.state} />
                    </td>
                    <td>
                      {t.bytesTotal ? (
                        <>
                          <div className="meter">
                            <div className={`meter-fill${t.state === 'succeeded' ? ' meter-ok' : ''}`} style={{ width: `${Math.min(100, (100 * t.bytesDone) / t.bytesTotal)}%` }} />
                          </div>
                          <span className="muted">
                            {bytes(t.bytesDone)} / {bytes(t.bytesTotal)}
                          </span>
                        </>
                      ) : (
                        <span className="muted">{bytes(t.bytesDone)}</span>
                      )}
                    </td>
                    <td className="num">{t.attempts}</td>
                    <td>{relativeTime(t.updatedAt)}</td>
                    <td className="error-text">{t.lastError ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </Grid>
          )
        )}
      </Section>
    </div>
  );
}
