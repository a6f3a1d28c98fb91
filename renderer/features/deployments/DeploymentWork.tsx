// The shore engineer's work on one deployment: the plan (per device: each image needed, present or
// in transit, the chosen base, estimated bytes; the distinct bundles), building and verifying the
// bundles as a job with progress and cancel, and what each device still misses before the
// manifest may be pushed: a hub sync (from here too) reads the devices' reports, the gate opens
// when every device has every image, and Push sends each device its manifest. Everything is
// computed in main; this view renders and asks.
import { useEffect, useState } from 'react';
import type { DeploymentView, JobInfo } from '../../../contract/index.js';
import type { Plan } from '../../../core/plan/plan.js';
import { api } from '../../api/index.js';
import { errorMessage } from '../../app/resource.js';
import { bytes, shortDigest } from '../../ui/format.js';
import { Form, TextField } from '../../ui/form.js';
import { Badge, ErrorBanner, Grid, Section } from '../../ui/parts.js';
import { SyncNow, syncSummary, useHubSync } from '../hub/SyncNow.js';
import { JobButton } from '../jobs/JobButton.js';
import { JobProgress } from '../jobs/JobProgress.js';
import { sortedJobs, useJobs } from '../jobs/store.js';

const KEY_KEY = 'lighter.signingKey';

/** The newest job of `kind` about deployment `id`. */
export function useDeploymentJob(kind: string, id: number): JobInfo | undefined {
  const byId = useJobs((s) => s.byId);
  return sortedJobs(byId)
    .filter((j) => {
      const p = j.params as { deployment?: number; deploymentId?: number } | null;
      return j.kind === kind && (p?.deployment ?? p?.deploymentId) === id;
    })
    .sort((a, b) => b.id - a.id)[0];
}

function PlanTable({ plan }: { plan: Plan }) {
  return (
    <Grid label="Plan per device" columns={['Device', 'Image', 'Status', 'Base', { label: 'Estimated', num: true }]} compact>
      <tbody>
        {plan.devices.flatMap((d) =>
          d.images.map((i, n) => (
            <tr key={`${d.deviceId}:${i.image}`} data-plan-device={d.deviceId}>
              <td>{n === 0 ? d.deviceId : ''}</td>
              <td className="mono">{i.image}</td>
              <td>
                <Badge state={i.status === 'missing' ? 'needed' : i.status} />
              </td>
              <td className="mono">{i.status === 'missing' ? (i.base ? i.base.ref : 'full image') : '—'}</td>
              <td className="num">{i.status === 'missing' ? bytes(i.estimatedBytes) : '—'}</td>
            </tr>
          )),
        )}
      </tbody>
    </Grid>
  );
}

function BundlesTable({ plan }: { plan: Plan }) {
  if (plan.bundles.length === 0) return <div className="empty-inline muted">Every image is on board or on its way: nothing to build.</div>;
  return (
    <Grid label="Distinct bundles" columns={['Target', 'Base', { label: 'Devices', num: true }, { label: 'Estimated', num: true }]} compact>
      <tbody>
        {plan.bundles.map((b) => (
          <tr key={b.key} data-bundle-key={b.key}>
            <td className="mono">{b.target.ref}</td>
            <td className="mono">{b.base ? b.base.ref : 'full image'}</td>
            <td className="num">{b.devices.length}</td>
            <td className="num">{bytes(b.estimatedBytes)}</td>
          </tr>
        ))}
      </tbody>
    </Grid>
  );
}

function BuiltBundles({ view }: { view: DeploymentView }) {
  if (view.bundles.length === 0) return null;
  return (
    <Grid label="Built bundles per device" columns={['Device', 'Bundle', 'Target', 'Base', { label: 'Size', num: true }, 'Image state']} compact>
      <tbody>
        {view.bundles.map((b) => (
          <tr key={`${b.deviceId}:${b.bundleId}`} data-built-device={b.deviceId}>
            <td>{b.deviceId}</td>
            <td className="mono" title={b.bundleId}>
              {shortDigest(b.bundleId)} <span className="muted">v{b.version}</span>
            </td>
            <td className="mono">{b.target.ref}</td>
            <td className="mono">{b.base ? b.base.ref : 'full image'}</td>
            <td className="num">{bytes(b.size)}</td>
            <td>{b.imageState ? <Badge state={b.imageState} /> : <span className="muted">not sent</span>}</td>
          </tr>
        ))}
      </tbody>
    </Grid>
  );
}

function Gate({ view }: { view: DeploymentView }) {
  return (
    <div className="pad-x" data-gate={view.gate.ready ? 'open' : 'closed'}>
      {view.gate.ready ? (
        <p className="ok-text">Every device has every image: the manifest can be pushed.</p>
      ) : (
        <>
          <p className="muted">The manifest can be pushed once every device reports every image: sync after the devices report.</p>
          <ul className="plain" aria-label="Still missing per device">
            {view.gate.devices
              .filter((d) => d.missing.length > 0)
              .map((d) => (
                <li key={d.deviceId} data-missing-device={d.deviceId}>
                  <b>{d.deviceId}</b> misses <span className="mono">{d.missing.join(', ')}</span>
                </li>
              ))}
          </ul>
        </>
      )}
    </div>
  );
}

export function DeploymentWork({ id, onChanged }: { id: number; onChanged(): void }) {
  const [plan, setPlan] = useState<Plan | null>(null);
  const [view, setView] = useState<DeploymentView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [key, setKey] = useState(() => localStorage.getItem(KEY_KEY) ?? '');
  const put = useJobs((s) => s.put);
  const build = useDeploymentJob('bundle-build', id);
  const buildState = build?.state;
  const push = useDeploymentJob('hub-push', id);
  const pushState = push?.state;
  const sync = useHubSync();
  const syncState = sync?.state;
  const [hubs, setHubs] = useState(0);

  useEffect(() => {
    let live = true;
    Promise.all([api().deployments.plan({ id }), api().deployments.show({ id }), api().hub.list()])
      .then(([p, v, h]) => {
        if (!live) return;
        setPlan(p);
        setView(v);
        setHubs(h.length);
        setError(null);
      })
      .catch((err: unknown) => live && setError(errorMessage(err)));
    return () => {
      live = false;
    };
    // a finished build, push or sync changes the plan, the bundles and the gate: re-read then
  }, [id, buildState, pushState, syncState]);

  // ...and the deployment's state and per-device counts the panel above shows
  useEffect(() => {
    if (buildState === 'succeeded' || pushState === 'succeeded' || syncState === 'succeeded') onChanged();
  }, [buildState, pushState, syncState, onChanged]);

  const startBuild = async () => {
    setError(null);
    localStorage.setItem(KEY_KEY, key);
    try {
      put(await api().deployments.build({ id, key: key.trim() }));
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <>
      <ErrorBanner error={error} />
      <Section title="Plan">
        {plan ? (
          <div className="split">
            <div>
              <h3>Per device</h3>
              <PlanTable plan={plan} />
            </div>
            <div>
              <h3>Distinct bundles</h3>
              <BundlesTable plan={plan} />
            </div>
          </div>
        ) : (
          <div className="empty-inline muted">Planning…</div>
        )}
      </Section>
      <Section title="Build and verify bundles">
        <Form inline onSubmit={startBuild} submit="Build bundles" disabled={!key.trim() || buildState === 'running'}>
          <TextField id="signing-key" label="Signing key" className="grow mono" value={key} onChange={setKey} placeholder="/path/to/lighter-bundle.key" />
        </Form>
        {build && <JobProgress job={build} summary={(j) => buildSummary(j)} />}
        {view && <BuiltBundles view={view} />}
      </Section>
      <ExportSection id={id} signingKey={key} built={(view?.bundles.length ?? 0) > 0} />
      <Section
        title="Manifest gate"
        actions={
          view && (
            <>
              <SyncNow hubs={hubs} />
              <PushButton id={id} ready={view.gate.ready} />
            </>
          )
        }
      >
        {view && <Gate view={view} />}
        {sync && <JobProgress job={sync} summary={syncSummary} />}
        {push && <JobProgress job={push} summary={pushSummary} />}
      </Section>
    </>
  );
}

function buildSummary(job: JobInfo): string | null {
  const r = job.result as { upToDate?: boolean; bundles?: Array<{ built: boolean; size: number }> } | null;
  if (!r?.bundles) return null;
  if (r.upToDate) return 'Nothing to build: every image is on board or on its way.';
  const built = r.bundles.filter((b) => b.built).length;
  return `${r.bundles.length} bundle${r.bundles.length === 1 ? '' : 's'} ready (${built} built and verified, ${r.bundles.length - built} reused), ${bytes(r.bundles.reduce((s, b) => s + b.size, 0))} in all.`;
}

function pushSummary(job: JobInfo): string | null {
  const r = job.result as { pushed?: string[]; unchanged?: string[]; refused?: Array<{ deviceId: string; missing: string[] }> } | null;
  if (!r?.pushed) return null;
  const parts = [`Manifest pushed to ${r.pushed.length ? r.pushed.join(', ') : 'no device'}.`];
  if (r.unchanged?.length) parts.push(`Already there, unchanged: ${r.unchanged.join(', ')}.`);
  for (const d of r.refused ?? []) parts.push(`Not pushed to ${d.deviceId}: it misses ${d.missing.join(', ')}.`);
  return parts.join(' ');
}

const DIR_KEY = 'lighter.usbDir';

/** Export to a USB stick (a folder: its mount point, or a stand-in directory). */
function ExportSection({ id, signingKey, built }: { id: number; signingKey: string; built: boolean }) {
  const [dir, setDir] = useState(() => localStorage.getItem(DIR_KEY) ?? '');
  const [error, setError] = useState<string | null>(null);
  const put = useJobs((s) => s.put);
  const job = useDeploymentJob('usb-export', id);
  const start = async () => {
    setError(null);
    localStorage.setItem(DIR_KEY, dir);
    try {
      put(await api().usb.export({ deployment: id, to: [dir.trim()], key: signingKey.trim() }));
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <Section title="Export to USB">
      <Form inline onSubmit={start} submit="Export to USB" disabled={!built || !dir.trim() || !signingKey.trim() || job?.state === 'running'} error={error}>
        <TextField id="usb-dir" label="Stick folder" className="grow mono" value={dir} onChange={setDir} placeholder="/media/USB-STICK" />
      </Form>
      {!built && <div className="empty-inline muted">Build the bundles first.</div>}
      {job && <JobProgress job={job} summary={exportSummary} />}
    </Section>
  );
}

function exportSummary(job: JobInfo): string | null {
  const r = job.result as { written?: Array<{ dir: string; files: number; skipped: number; bytes: number }>; devices?: unknown[] } | null;
  const w = r?.written?.[0];
  if (!w) return null;
  const devices = r?.devices?.length ?? 0;
  return `${w.files} files written to ${w.dir} (${w.skipped} already there), ${bytes(w.bytes)}, for ${devices} device${devices === 1 ? '' : 's'}.`;
}

function PushButton({ id, ready }: { id: number; ready: boolean }) {
  return (
    <JobButton start={() => api().hub.push({ deploymentId: id })} disabled={!ready} title={ready ? 'Push the manifest to every device' : 'Every device needs every image first'}>
      Push manifest
    </JobButton>
  );
}
