// The devices an opened stick carries, each with what it needs, the address of its registry on the
// ship LAN and an explicit plain-HTTP choice, and the one button that applies to every device given
// an address. Which bundles go where, and what "insecure" allows, is decided in main (usb.import).
import type { UsbImportReport as StickReport } from '../../../contract/index.js';
import { Badge, Grid, Section } from '../../ui/parts.js';

/** What the crew chose for one device: its registry and whether it speaks plain HTTP. */
export interface DeviceTarget {
  registry: string;
  insecure: boolean;
}

export function StickApply({
  stick,
  targets,
  onChange,
  onApply,
  busy,
}: {
  stick: StickReport;
  targets: Record<string, DeviceTarget>;
  onChange(deviceId: string, target: DeviceTarget): void;
  onApply(): void;
  busy: boolean;
}) {
  const target = (id: string): DeviceTarget => targets[id] ?? { registry: '', insecure: false };
  const chosen = stick.devices.filter((d) => target(d.deviceId).registry.trim()).length;
  return (
    <Section title={`Deployment ${stick.deployment.name} · stick ${stick.stick.number} of ${stick.stick.of}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          onApply();
        }}
      >
        <Grid label="Devices on this stick" columns={['Device', 'Needs', 'Registry on the ship LAN', 'Connection']}>
          <tbody>
            {stick.devices.map((d) => {
              const t = target(d.deviceId);
              return (
                <tr key={d.deviceId} data-stick-device={d.deviceId}>
                  <td className="primary">{d.deviceId}</td>
                  <td>
                    <ul className="plain">
                      {d.bundles.map((b) => (
                        <li key={b.bundleId}>
                          <span className="mono">{b.target}</span> <span className="muted">from {b.base ?? 'nothing (full image)'}</span> <Badge state={b.outcome} />
                          {b.detail && <span className="muted"> {b.detail}</span>}
                        </li>
                      ))}
                    </ul>
                  </td>
                  <td>
                    <input
                      aria-label={`Registry of ${d.deviceId}`}
                      className="mono"
                      value={t.registry}
                      onChange={(e) => onChange(d.deviceId, { ...t, registry: e.target.value })}
                      placeholder="docker://192.168.1.20:5000"
                    />
                  </td>
                  <td>
                    <label className="check">
                      <input
                        type="checkbox"
                        checked={t.insecure}
                        disabled={!t.registry.trim()}
                        aria-describedby="insecure-help"
                        onChange={(e) => onChange(d.deviceId, { ...t, insecure: e.target.checked })}
                      />{' '}
                      plain HTTP (insecure)<span className="sr-only"> for {d.deviceId}</span>
                    </label>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </Grid>
        <p id="insecure-help" className="muted pad-x">
          Plain HTTP sends images unencrypted and unchecked: choose it only for a device registry on the ship LAN that has no TLS. Every other registry is reached over verified
          HTTPS (a registry on this machine&apos;s loopback needs neither).
        </p>
        <div className="form-actions pad-top">
          <button type="submit" className="button button-primary" disabled={busy || chosen === 0}>
            {chosen > 1 ? `Apply to ${chosen} devices` : chosen === 1 ? 'Apply to 1 device' : 'Apply to devices'}
          </button>
          <span className="muted">Each device&apos;s bundles go in order; a receipt for every apply is written to the stick.</span>
          {stick.ignored.length > 0 && <span className="muted">Ignored on the stick: {stick.ignored.join(', ')}</span>}
        </div>
      </form>
    </Section>
  );
}
