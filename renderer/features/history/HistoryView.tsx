// History: every import into the inventory (IoT Hub twins, USB receipts, device files) and the audit
// log of who did what.
import { useEffect } from 'react';
import { useSession } from '../../app/session.js';
import { timestamp } from '../../ui/format.js';
import { Badge, Cmd, Empty, ErrorBanner, Grid, Section } from '../../ui/parts.js';
import { useAuditLog, useSyncHistory } from './store.js';

function details(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

export function HistoryView() {
  const refreshes = useSession((s) => s.refreshes);
  const sync = useSyncHistory();
  const audit = useAuditLog();
  const loadSync = sync.load;
  const loadAudit = audit.load;
  useEffect(() => {
    void loadSync();
    void loadAudit();
  }, [refreshes, loadSync, loadAudit]);

  return (
    <div className="page">
      <ErrorBanner error={sync.error ?? audit.error} />
      <Section title="Sync history">
        {sync.data && sync.data.length === 0 ? (
          <Empty title="Nothing imported yet">
            Imports from IoT Hub and USB receipts are listed here, starting with <Cmd>lighter db import-devices FILE</Cmd>.
          </Empty>
        ) : (
          sync.data && (
            <Grid columns={['When (UTC)', 'Source', 'Summary', { label: 'Changes', num: true }, { label: 'Conflicts', num: true }]}>
              <tbody>
                {sync.data.map((s) => (
                  <tr key={s.id}>
                    <td className="nowrap">{timestamp(s.at)}</td>
                    <td>{s.source}</td>
                    <td>{s.summary}</td>
                    <td className="num">{s.changes}</td>
                    <td className="num">{s.conflicts ? <Badge state="failed" count={s.conflicts} /> : 0}</td>
                  </tr>
                ))}
              </tbody>
            </Grid>
          )
        )}
      </Section>
      <Section
        title="Audit log"
        actions={
          <input type="search" placeholder="filter by user" aria-label="Filter by user" value={audit.params.actor} onChange={(e) => void audit.load({ actor: e.target.value })} />
        }
      >
        {audit.data && audit.data.length === 0 ? (
          <Empty title={audit.params.actor ? `No actions by ${audit.params.actor}` : 'No actions recorded yet'} />
        ) : (
          audit.data && (
            <Grid columns={['When (UTC)', 'User', 'Action', 'Target', 'Details']}>
              <tbody>
                {audit.data.map((a) => (
                  <tr key={a.id}>
                    <td className="nowrap">{timestamp(a.at)}</td>
                    <td>{a.actor}</td>
                    <td className="mono">{a.action}</td>
                    <td className="mono">{a.target ?? '—'}</td>
                    <td className="muted">{details(a.details)}</td>
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
