// A new deployment: open an IoT Edge deployment manifest (the native file picker in Electron, an
// upload in the console, or its path typed: main reads the file for those two), name it, say who
// orders it, and pick a group or devices. Main checks the manifest and resolves the group; this
// view only collects the choice.
import { useEffect, useMemo, useState } from 'react';
import { useNavigate } from 'react-router';
import { api } from '../../api/index.js';
import type { ManifestFile } from '../../../contract/index.js';
import { errorMessage } from '../../app/resource.js';
import { useSession } from '../../app/session.js';
import { Form, TextField } from '../../ui/form.js';
import { ErrorBanner, Section } from '../../ui/parts.js';
import { useDevices } from '../fleet/store.js';

const ORDERER_KEY = 'lighter.orderedBy';

function rememberedOrderer(): { name: string; email: string } {
  try {
    const v = JSON.parse(localStorage.getItem(ORDERER_KEY) ?? '{}') as { name?: unknown; email?: unknown };
    return { name: typeof v.name === 'string' ? v.name : '', email: typeof v.email === 'string' ? v.email : '' };
  } catch {
    return { name: '', email: '' };
  }
}

export function NewDeployment() {
  const navigate = useNavigate();
  const devices = useDevices();
  const loadDevices = devices.load;
  useEffect(() => {
    void loadDevices({ group: '', vessel: '', site: '', search: '' });
  }, [loadDevices]);
  const desktop = useSession((st) => st.info?.shell === 'electron');
  const [manifest, setManifest] = useState<{ file: string; text: string } | null>(null);
  const [path, setPath] = useState('');
  const [name, setName] = useState('');
  const [orderer, setOrderer] = useState(rememberedOrderer);
  const [target, setTarget] = useState<'group' | 'devices'>('group');
  const [group, setGroup] = useState('');
  const [picked, setPicked] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const groups = devices.data?.facets.groups ?? [];
  const all = useMemo(() => devices.data?.devices ?? [], [devices.data]);
  const chosenGroup = group || groups[0] || '';

  const opened = (file: string, text: string) => {
    setManifest({ file, text });
    if (!name) setName(file.replace(/\.json$/i, ''));
  };
  const upload = async (file: File) => {
    setError(null);
    opened(file.name, await file.text());
  };
  // A typed path, or the desktop app's native picker: main reads and checks the file either way.
  const read = async (how: () => Promise<ManifestFile | null>) => {
    setError(null);
    try {
      const m = await how();
      if (m) opened(m.name, m.text);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  const submit = async () => {
    if (!manifest) return;
    setBusy(true);
    setError(null);
    try {
      localStorage.setItem(ORDERER_KEY, JSON.stringify(orderer));
      const { id } = await api().deployments.create({
        manifestJson: manifest.text,
        name: name.trim(),
        orderedBy: { name: orderer.name.trim(), email: orderer.email.trim() },
        ...(target === 'group' ? { group: chosenGroup } : { devices: picked }),
      });
      void navigate(`/deployments/${id}`);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const ready = manifest && name.trim() && orderer.name.trim() && orderer.email.trim() && (target === 'group' ? chosenGroup : picked.length > 0);
  return (
    <div className="page">
      <ErrorBanner error={error ?? devices.error} />
      <Section title="New deployment">
        <Form onSubmit={submit} submit={busy ? 'Creating…' : 'Create deployment'} disabled={!ready || busy} hint="The plan and the bundles to build show on the next page.">
          <span id="manifest-label">Deployment manifest</span>
          <span className="inline-action">
            {desktop ? (
              <button type="button" className="button" onClick={() => void read(() => api().deployments.pickManifest({}))}>
                Open manifest…
              </button>
            ) : (
              <label className="button">
                Open manifest…
                <input type="file" accept=".json,application/json" className="sr-only" aria-labelledby="manifest-label" onChange={(e) => e.target.files?.[0] && void upload(e.target.files[0])} />
              </label>
            )}
            <span className={manifest ? 'mono' : 'muted'} data-testid="manifest-file">
              {manifest ? `${manifest.file} (${manifest.text.length.toLocaleString()} characters)` : 'no file chosen'}
            </span>
          </span>
          <label htmlFor="manifest-path">or its path</label>
          <span className="inline-action">
            <input
              id="manifest-path"
              className="mono grow"
              value={path}
              onChange={(e) => setPath(e.target.value)}
              // Enter opens the file here instead of submitting the whole form
              onKeyDown={(e) => {
                if (e.key === 'Enter') {
                  e.preventDefault();
                  if (path.trim()) void read(() => api().deployments.openManifest({ path: path.trim() }));
                }
              }}
              placeholder="/home/ana/deployments/telemetry.json"
            />
            <button type="button" className="button" disabled={!path.trim()} onClick={() => void read(() => api().deployments.openManifest({ path: path.trim() }))}>
              Open path
            </button>
          </span>
          <TextField id="dep-name" label="Name" value={name} onChange={setName} placeholder="telemetry-1.5-north-sea" />
          <TextField id="dep-by" label="Ordered by" value={orderer.name} onChange={(v) => setOrderer({ ...orderer, name: v })} placeholder="your name" />
          <TextField id="dep-email" label="Email" type="email" value={orderer.email} onChange={(v) => setOrderer({ ...orderer, email: v })} placeholder="you@example.com" />
          <span id="target-label">Devices</span>
          <div role="radiogroup" aria-labelledby="target-label" className="inline-action">
            <label>
              <input type="radio" name="target" checked={target === 'group'} onChange={() => setTarget('group')} /> a group
            </label>
            <label>
              <input type="radio" name="target" checked={target === 'devices'} onChange={() => setTarget('devices')} /> chosen devices
            </label>
          </div>
          {target === 'group' ? (
            <>
              <label htmlFor="dep-group">Group</label>
              <select id="dep-group" value={chosenGroup} onChange={(e) => setGroup(e.target.value)}>
                {groups.map((g) => (
                  <option key={g} value={g}>
                    {g} ({all.filter((d) => d.group === g).length} devices)
                  </option>
                ))}
              </select>
            </>
          ) : (
            <>
              <span>Choose devices</span>
              <div className="device-picks">
                {all.map((d) => (
                  <label key={d.id}>
                    <input
                      type="checkbox"
                      checked={picked.includes(d.id)}
                      onChange={(e) => setPicked(e.target.checked ? [...picked, d.id] : picked.filter((p) => p !== d.id))}
                    />{' '}
                    {d.displayName ?? d.id} <span className="muted">{d.group ?? ''}</span>
                  </label>
                ))}
              </div>
            </>
          )}
        </Form>
      </Section>
    </div>
  );
}
