// IoT Hub: connect a hub (its connection string goes to main's secret store, never back), sync
// the device twins as a job, and the notifications hub sync raises (applied, failed, ready, pushed).
import { useCallback, useEffect, useRef, useState } from 'react';
import type { HubSummary, NotificationItem } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { errorMessage } from '../../app/resource.js';
import { useSession } from '../../app/session.js';
import { relativeTime, timestamp } from '../../ui/format.js';
import { Form, TextField } from '../../ui/form.js';
import { Badge, ErrorBanner, Grid, Section } from '../../ui/parts.js';
import { JobProgress } from '../jobs/JobProgress.js';
import { SyncNow, syncSummary, useHubSync } from './SyncNow.js';

export function HubView() {
  const refreshes = useSession((s) => s.refreshes);
  const [hubs, setHubs] = useState<HubSummary[] | null>(null);
  const [notes, setNotes] = useState<NotificationItem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [conn, setConn] = useState('');
  const sync = useHubSync();
  const syncButton = useRef<HTMLButtonElement>(null);
  // after connecting a hub, the next step has focus (once the list says the button is on)
  const focusSync = useRef(false);
  useEffect(() => {
    if (!focusSync.current || !hubs?.length) return;
    focusSync.current = false;
    syncButton.current?.focus();
  }, [hubs]);
  const syncState = sync?.state;

  const load = useCallback(() => {
    Promise.all([api().hub.list(), api().hub.notifications({ limit: 200 })])
      .then(([h, n]) => {
        setHubs(h);
        setNotes(n);
      })
      .catch((err: unknown) => setError(errorMessage(err)));
  }, []);
  useEffect(() => {
    load();
  }, [load, refreshes, syncState]);

  const add = async () => {
    setError(null);
    try {
      await api().hub.add({ name: name.trim(), connectionString: conn.trim() });
      setName('');
      setConn('');
      focusSync.current = true;
      load();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <div className="page">
      <ErrorBanner error={error} />
      <Section
        title="Hubs"
        actions={<SyncNow ref={syncButton} hubs={hubs?.length ?? 0} />}
      >
        {hubs && hubs.length === 0 && <div className="empty-inline muted">No hub connected yet: add one below.</div>}
        {hubs && hubs.length > 0 && (
          <Grid label="Connected hubs" columns={['Name', 'Host', 'Policy', 'Secret', 'Last sync']}>
            <tbody>
              {hubs.map((h) => (
                <tr key={h.name} data-hub={h.name}>
                  <td className="primary">{h.name}</td>
                  <td className="mono">{h.hostName}</td>
                  <td>{h.policy}</td>
                  <td>{h.secret}</td>
                  <td>
                    {h.lastSyncAt ? relativeTime(h.lastSyncAt) : 'never'} {h.lastSyncOk !== null && <Badge state={h.lastSyncOk ? 'succeeded' : 'failed'} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </Grid>
        )}
        {sync && <JobProgress job={sync} summary={syncSummary} />}
        <Form onSubmit={add} submit="Connect hub" disabled={!name.trim() || !conn.trim()} hint="The connection string is kept in the secret store and never shown again.">
          <TextField id="hub-name" label="Name" value={name} onChange={setName} placeholder="fleet-hub" />
          <TextField id="hub-conn" label="Connection string" type="password" autoComplete="off" className="mono" value={conn} onChange={setConn} placeholder="HostName=…;SharedAccessKeyName=…;SharedAccessKey=…" />
        </Form>
      </Section>
      <Section title="Notifications">
        {notes.length === 0 ? (
          <div className="empty-inline muted">Nothing yet: syncs raise a notification when images arrive or fail, and when a deployment is ready or pushed.</div>
        ) : (
          <ul className="plain pad-x" aria-label="Notifications">
            {notes.map((n) => (
              <li key={n.id} data-notification={n.kind} className={n.read ? 'muted' : undefined}>
                <Badge state={n.kind === 'image-failed' ? 'failed' : n.kind === 'deployment-pushed' ? 'pushed' : n.kind === 'deployment-ready' ? 'ready' : 'applied'} /> {n.message}{' '}
                <span className="muted">{timestamp(n.at)}</span>
              </li>
            ))}
          </ul>
        )}
      </Section>
    </div>
  );
}
