// Uploads: the storage account bundles go to, queueing a deployment's bundles, and the queue in the
// order main will work it (core/transfers/queue-order.ts) with live progress per transfer. The
// engineer changes a deployment's priority, caps the rate all uploads share, pauses, resumes,
// retries or cancels a transfer, and starts the runner as a job. Every rule lives in main: this
// view shows what main answers and re-reads it after every change.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { DeploymentRow, UploadRow, UploadStatus, UploadTargetInfo } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { errorMessage } from '../../app/resource.js';
import { useSession } from '../../app/session.js';
import { Form, TextField } from '../../ui/form.js';
import { bytes, duration, shortDigest } from '../../ui/format.js';
import { Badge, Empty, ErrorBanner, Grid, Section } from '../../ui/parts.js';
import { JobProgress } from '../jobs/JobProgress.js';
import { sortedJobs, useJobs } from '../jobs/store.js';

/** states a transfer can still move from; the others are history */
const OPEN = new Set(['queued', 'running', 'failed']);

function targetLine(t: UploadTargetInfo): string {
  if (t.source === 'none') return 'No storage account yet: give a container SAS URL or a connection string below.';
  const kind = t.kind === 'sas-url' ? 'a container SAS URL' : 'a connection string';
  const from = t.source === 'environment' ? 'from the environment (it wins over the one kept here)' : 'kept in the secret store';
  return `Uploads go to container ${t.container ?? '?'}, by ${kind} ${from}.`;
}

function StorageSection({ target, onChanged }: { target: UploadTargetInfo | null; onChanged(t: UploadTargetInfo): void }) {
  const [credential, setCredential] = useState('');
  const [container, setContainer] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async () => {
    setError(null);
    try {
      onChanged(await api().uploads.setTarget({ credential: credential.trim(), ...(container.trim() ? { container: container.trim() } : {}) }));
      setCredential('');
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <Section title="Storage account">
      {target && (
        <p className="pad-x" data-target={target.source}>
          {targetLine(target)}
        </p>
      )}
      <Form onSubmit={submit} submit="Set storage account" disabled={!credential.trim()} error={error} hint="Kept in the secret store and never shown again.">
        <TextField id="upload-credential" label="SAS URL or connection string" type="password" autoComplete="off" className="mono" value={credential} onChange={setCredential} />
        <TextField id="upload-container" label="Container (with a connection string)" className="mono" value={container} onChange={setContainer} placeholder="lighter" />
      </Form>
    </Section>
  );
}

function QueueSection({ onQueued }: { onQueued(): void }) {
  const refreshes = useSession((s) => s.refreshes);
  const [deployments, setDeployments] = useState<DeploymentRow[]>([]);
  const [chosen, setChosen] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  useEffect(() => {
    api()
      .inventory.deployments({})
      .then((all) => setDeployments(all.filter((d) => d.state !== 'cancelled' && d.state !== 'pushed')))
      .catch((err: unknown) => setError(errorMessage(err)));
  }, [refreshes]);
  const id = chosen || String(deployments[0]?.id ?? '');
  const submit = async () => {
    setError(null);
    setDone(null);
    try {
      const ids = await api().uploads.queue({ deploymentId: Number(id) });
      const name = deployments.find((d) => String(d.id) === id)?.name ?? id;
      setDone(ids.length === 0 ? `Every bundle of ${name} is queued or uploaded already.` : `${ids.length} upload${ids.length === 1 ? '' : 's'} of ${name} queued.`);
      onQueued();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <Section title="Queue a deployment">
      <Form inline onSubmit={submit} submit="Queue uploads" disabled={!id} error={error} hint={done && <span role="status">{done}</span>}>
        <label htmlFor="queue-deployment">Deployment</label>
        <select id="queue-deployment" value={id} onChange={(e) => setChosen(e.target.value)}>
          {deployments.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name} ({d.state})
            </option>
          ))}
        </select>
      </Form>
    </Section>
  );
}

function RateForm({ status, onChanged }: { status: UploadStatus | null; onChanged(s: UploadStatus): void }) {
  const [kib, setKib] = useState('');
  const [error, setError] = useState<string | null>(null);
  const value = Number(kib);
  const valid = kib.trim() !== '' && Number.isFinite(value) && value >= 0;
  const submit = async () => {
    setError(null);
    try {
      onChanged(await api().uploads.setRate({ bytesPerSecond: Math.round(value * 1024) }));
      setKib('');
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <Form
      inline
      onSubmit={submit}
      submit="Set cap"
      disabled={!valid}
      error={error}
      hint={
        <span data-cap={status?.cap ?? 0}>
          {status && (status.cap > 0 ? `capped at ${bytes(status.cap)}/s` : 'no cap')}
          {status && status.rate > 0 && ` · sending ${bytes(status.rate)}/s`}
        </span>
      }
    >
      <TextField id="rate-cap" label="Rate cap (KiB/s, 0 = none)" type="number" min={0} step="any" value={kib} onChange={setKib} />
    </Form>
  );
}

/** One form per deployment in the queue: its priority places all its transfers. */
function Priorities({ rows, onChanged }: { rows: UploadRow[]; onChanged(rows: UploadRow[]): void }) {
  const deployments = useMemo(() => {
    const seen = new Map<number, { id: number; name: string; priority: number }>();
    for (const r of rows) if (r.deploymentId !== null && OPEN.has(r.state) && !seen.has(r.deploymentId)) seen.set(r.deploymentId, { id: r.deploymentId, name: r.deployment ?? String(r.deploymentId), priority: r.priority });
    return [...seen.values()];
  }, [rows]);
  const [draft, setDraft] = useState<Record<number, string>>({});
  const [error, setError] = useState<string | null>(null);
  if (deployments.length === 0) return null;
  const save = async (id: number, priority: number) => {
    setError(null);
    try {
      onChanged(await api().uploads.setPriority({ deploymentId: id, priority }));
      setDraft((d) => ({ ...d, [id]: '' }));
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <div className="pad-x">
      <h3>Priority per deployment (higher goes first)</h3>
      <ErrorBanner error={error} />
      <ul className="plain" aria-label="Priorities">
        {deployments.map((d) => {
          const text = draft[d.id] ?? '';
          const n = Number(text);
          return (
            <li key={d.id} data-priority-of={d.name}>
              <form
                className="inline-action"
                onSubmit={(e) => {
                  e.preventDefault();
                  void save(d.id, n);
                }}
              >
                <b>{d.name}</b>
                <span className="muted">priority {d.priority}</span>
                <button type="button" className="button button-small" aria-label={`Raise ${d.name}`} onClick={() => void save(d.id, d.priority + 1)}>
                  Raise
                </button>
                <button type="button" className="button button-small" aria-label={`Lower ${d.name}`} onClick={() => void save(d.id, d.priority - 1)}>
                  Lower
                </button>
                <input type="number" aria-label={`New priority of ${d.name}`} value={text} onChange={(e) => setDraft({ ...draft, [d.id]: e.target.value })} placeholder={String(d.priority)} />
                <button type="submit" className="button button-small" disabled={text.trim() === '' || !Number.isInteger(n)}>
                  Set
                </button>
              </form>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function Actions({ row, act }: { row: UploadRow; act(verb: 'pause' | 'resume' | 'cancel', id: number): void }) {
  const buttons: Array<['pause' | 'resume' | 'cancel', string]> = [];
  if ((row.state === 'queued' || row.state === 'running') && !row.paused) buttons.push(['pause', 'Pause']);
  if (row.paused) buttons.push(['resume', 'Resume']);
  if (row.state === 'failed') buttons.push(['resume', 'Retry']);
  if (OPEN.has(row.state)) buttons.push(['cancel', 'Cancel']);
  return (
    <span className="inline-action">
      {buttons.map(([verb, label]) => (
        <button key={label} className={`button button-small${verb === 'cancel' ? ' button-danger' : ''}`} aria-label={`${label} transfer ${row.id}`} onClick={() => act(verb, row.id)}>
          {label}
        </button>
      ))}
    </span>
  );
}

function QueueTable({ rows, status, act }: { rows: UploadRow[]; status: UploadStatus | null; act(verb: 'pause' | 'resume' | 'cancel', id: number): void }) {
  const live = useMemo(() => new Map((status?.running ?? []).map((p) => [p.id, p])), [status]);
  let place = 0;
  return (
    <Grid label="Upload queue" columns={[{ label: 'Order', num: true }, { label: 'Transfer', num: true }, 'Device', 'Deployment', { label: 'Priority', num: true }, 'Bundle', 'State', 'Progress', { label: 'Attempts', num: true }, 'Actions']} compact>
      <tbody>
        {rows.map((r) => {
          const p = live.get(r.id);
          const done = p ? p.done : r.state === 'succeeded' ? r.size : r.bytesDone;
          const pct = r.size > 0 ? Math.min(100, Math.floor((100 * done) / r.size)) : 100;
          return (
            <tr key={r.id} data-upload={r.id} data-state={r.state} data-paused={r.paused || undefined}>
              <td className="num">{r.state === 'queued' && !r.paused ? ++place : ''}</td>
              <td className="num">{r.id}</td>
              <td className="mono">{r.deviceId}</td>
              <td>{r.deployment ?? '—'}</td>
              <td className="num">{r.priority}</td>
              <td className="mono" title={r.bundleId}>
                {shortDigest(r.bundleId)}
              </td>
              <td>
                <Badge state={r.state} /> {r.paused && <Badge state="paused" />}
                {r.lastError && r.state === 'failed' && <div className="error-text">{r.lastError}</div>}
              </td>
              <td>
                <div className="meter" role="progressbar" aria-label={`Transfer ${r.id} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
                  <div className={`meter-fill${r.state === 'succeeded' ? ' meter-ok' : ''}`} style={{ width: `${pct}%` }} />
                </div>
                <span className="muted">
                  {bytes(done)} / {bytes(r.size)}
                  {p && p.rate > 0 && ` · ${bytes(p.rate)}/s`}
                  {p?.etaSeconds != null && ` · ${duration(p.etaSeconds)} left`}
                </span>
              </td>
              <td className="num">{r.attempts}</td>
              <td>
                <Actions row={r} act={act} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </Grid>
  );
}

export function UploadsView() {
  const refreshes = useSession((s) => s.refreshes);
  const [rows, setRows] = useState<UploadRow[] | null>(null);
  const [status, setStatus] = useState<UploadStatus | null>(null);
  const [target, setTarget] = useState<UploadTargetInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const put = useJobs((s) => s.put);
  const byId = useJobs((s) => s.byId);
  const run = sortedJobs(byId).find((j) => j.kind === 'upload-run');
  const running = run?.state === 'running';

  const load = useCallback(() => {
    Promise.all([api().uploads.list({}), api().uploads.progress({}), api().uploads.target({})])
      .then(([r, s, t]) => {
        setRows(r);
        setStatus(s);
        setTarget(t);
      })
      .catch((err: unknown) => setError(errorMessage(err)));
  }, []);
  // Re-read on a refresh and when the runner starts or ends; while it runs, every second for the
  // per-transfer progress (its job's events carry only the total).
  useEffect(() => {
    load();
  }, [load, refreshes, run?.id, run?.state]);
  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(load, 1000);
    return () => clearInterval(timer);
  }, [running, load]);

  const act = (verb: 'pause' | 'resume' | 'cancel', id: number) => {
    setError(null);
    api()
      .uploads[verb]({ id })
      .then(load)
      .catch((err: unknown) => setError(errorMessage(err)));
  };
  const start = () => {
    setError(null);
    api()
      .uploads.run({ once: true })
      .then(put)
      .catch((err: unknown) => setError(errorMessage(err)));
  };
  const waiting = rows?.some((r) => r.state === 'queued' && !r.paused) ?? false;

  return (
    <div className="page">
      <ErrorBanner error={error} />
      <StorageSection target={target} onChanged={setTarget} />
      <QueueSection onQueued={load} />
      <Section
        title="Upload queue"
        actions={
          <button className="button button-primary" disabled={running || !waiting || target?.source === 'none'} onClick={start}>
            {running ? 'Uploading…' : 'Upload the queue'}
          </button>
        }
      >
        <RateForm status={status} onChanged={setStatus} />
        {run && <JobProgress job={run} summary={runSummary} />}
        {rows && <Priorities rows={rows} onChanged={setRows} />}
        {rows && rows.length === 0 ? <Empty title="Nothing queued">Queue a deployment above: its verified bundles go to each device's container.</Empty> : rows && <QueueTable rows={rows} status={status} act={act} />}
      </Section>
    </div>
  );
}

function runSummary(job: { result: unknown }): string | null {
  const r = job.result as { succeeded?: number[]; failed?: unknown[]; stopped?: number[] } | null;
  if (!r?.succeeded) return null;
  return `${r.succeeded.length} uploaded, ${r.failed?.length ?? 0} failed, ${r.stopped?.length ?? 0} stopped.`;
}
