// The crew's view, offline: open a USB stick (everything on it is verified first), see per device
// what it carries, give each device's registry on the ship LAN (plain HTTP only when chosen), apply
// with progress and see the result per device; receipts go onto the stick for the shore, which can
// take them into its inventory here too. Nothing here needs a network beyond the LAN: every call
// goes to main over the loopback bridge (or Electron's IPC).
import { useState } from 'react';
import type { UsbImportReport as StickReport } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { errorMessage } from '../../app/resource.js';
import { Form, TextField } from '../../ui/form.js';
import { ErrorBanner, Section } from '../../ui/parts.js';
import { JobProgress } from '../jobs/JobProgress.js';
import { useJobs } from '../jobs/store.js';
import { ApplyResults, applySummary } from './ApplyResults.js';
import { ReceiptsBack } from './ReceiptsBack.js';
import { StickApply, type DeviceTarget } from './StickApply.js';

const STICK_KEY = 'lighter.crew.stick';
const PUBKEY_KEY = 'lighter.crew.pubkey';
const TARGETS_KEY = 'lighter.crew.targets';

/** The registries (and plain-HTTP choices) typed on earlier visits, per device. */
function remembered(): Record<string, DeviceTarget> {
  try {
    const saved = JSON.parse(localStorage.getItem(TARGETS_KEY) ?? '{}') as Record<string, unknown>;
    // Older versions kept only the address.
    return Object.fromEntries(Object.entries(saved).map(([id, v]) => [id, typeof v === 'string' ? { registry: v, insecure: false } : (v as DeviceTarget)]));
  } catch {
    return {};
  }
}

export function CrewView() {
  const [dir, setDir] = useState(() => localStorage.getItem(STICK_KEY) ?? '');
  const [pubkey, setPubkey] = useState(() => localStorage.getItem(PUBKEY_KEY) ?? '');
  // The stick and key as they were when opened: applying uses what was verified and shown, even if
  // the fields are edited meanwhile.
  const [opened, setOpened] = useState<{ id: number; dir: string; pubkey: string } | null>(null);
  const [applyId, setApplyId] = useState<number | null>(null);
  const [targets, setTargets] = useState<Record<string, DeviceTarget>>(remembered);
  const [error, setError] = useState<string | null>(null);
  const put = useJobs((s) => s.put);
  const byId = useJobs((s) => s.byId);
  const openJob = opened ? byId[opened.id] : undefined;
  const opening = openJob?.state === 'running';
  const stick = openJob?.state === 'succeeded' ? (openJob.result as StickReport) : null;
  const job = applyId !== null ? byId[applyId] : undefined;
  const result = job?.state === 'succeeded' ? (job.result as StickReport) : null;

  const open = async () => {
    setError(null);
    setApplyId(null);
    localStorage.setItem(STICK_KEY, dir);
    localStorage.setItem(PUBKEY_KEY, pubkey);
    try {
      const at = { dir: dir.trim(), pubkey: pubkey.trim() };
      const j = await api().usb.import({ ...at, dryRun: true });
      put(j);
      setOpened({ id: j.id, ...at });
    } catch (err) {
      setOpened(null);
      setError(errorMessage(err));
    }
  };
  const apply = async () => {
    if (!stick || !opened) return;
    setError(null);
    const chosen = stick.devices.flatMap((d) => {
      const t = targets[d.deviceId];
      return t?.registry.trim() ? [{ id: d.deviceId, registry: t.registry.trim(), insecure: t.insecure }] : [];
    });
    localStorage.setItem(TARGETS_KEY, JSON.stringify({ ...remembered(), ...Object.fromEntries(chosen.map((c) => [c.id, { registry: c.registry, insecure: c.insecure }])) }));
    try {
      const j = await api().usb.import({
        dir: opened.dir,
        pubkey: opened.pubkey,
        apply: Object.fromEntries(chosen.map((c) => [c.id, c.registry])),
        insecure: chosen.filter((c) => c.insecure).map((c) => c.id),
      });
      put(j);
      setApplyId(j.id);
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <div className="page">
      <ErrorBanner error={error ?? (openJob?.state === 'failed' ? openJob.error : null)} />
      <Section title="Open a USB stick">
        <Form
          onSubmit={open}
          submit={opening ? 'Verifying…' : 'Open stick'}
          disabled={!dir.trim() || !pubkey.trim() || opening}
          hint="The index, its signature and every file are checked before anything is shown."
        >
          <TextField id="stick-dir" label="Stick folder" className="mono" value={dir} onChange={setDir} placeholder="/media/LIGHTER" />
          <TextField id="stick-pubkey" label="Bundle public key" className="mono" value={pubkey} onChange={setPubkey} placeholder="/etc/lighter/lighter-bundle.pub" />
        </Form>
        {opening && <JobProgress job={openJob} />}
      </Section>
      {stick && (
        <StickApply
          stick={stick}
          targets={targets}
          onChange={(id, t) => setTargets((all) => ({ ...all, [id]: t }))}
          onApply={() => void apply()}
          busy={job?.state === 'running'}
        />
      )}
      {job && (
        <Section title="Apply">
          <JobProgress job={job} summary={(j) => applySummary(j.result as StickReport)} />
          {result && opened && <ApplyResults report={result} stickDir={opened.dir} />}
        </Section>
      )}
      {stick && opened && <ReceiptsBack stickDir={opened.dir} />}
    </div>
  );
}
