// What an apply from the stick did, per device and bundle (applied, already there, failed with
// main's reason), and where the signed receipts went: the stick's receipts/ folder, with the
// laptop's public key beside them for shore to enroll.
import type { UsbImportReport } from '../../../contract/index.js';
import { shortDigest } from '../../ui/format.js';
import { Badge, Grid } from '../../ui/parts.js';

/** "1 applied, 1 already there, 1 failed": the apply job's result line, counted over every bundle. */
export function applySummary(report: UsbImportReport): string {
  const counts = new Map<string, number>();
  for (const d of report.devices) if (d.action !== 'none') for (const b of d.bundles) counts.set(b.outcome, (counts.get(b.outcome) ?? 0) + 1);
  const words: Record<string, string> = { 'already-applied': 'already there', 'not-reached': 'not reached' };
  return [...counts].map(([outcome, n]) => `${n} ${words[outcome] ?? outcome}`).join(', ') || 'nothing to do';
}

export function ApplyResults({ report, stickDir }: { report: UsbImportReport; stickDir: string }) {
  const devices = report.devices.filter((d) => d.action !== 'none');
  const receipts = devices.flatMap((d) => d.bundles.flatMap((b) => (b.receipt ? [b.receipt] : [])));
  return (
    <>
      <Grid label="Apply results" columns={['Device', 'Into', 'Image', 'Outcome', 'Receipt']} compact>
        <tbody>
          {devices.flatMap((d) =>
            d.bundles.map((b) => (
              <tr key={`${d.deviceId}:${b.bundleId}`} data-result-device={d.deviceId} data-outcome={b.outcome}>
                <td className="primary">{d.deviceId}</td>
                <td className="mono">{d.via}</td>
                <td className="mono">{b.target}</td>
                <td>
                  <Badge state={b.outcome} /> {b.detail && <span className={b.outcome === 'failed' ? 'error-text' : 'muted'}>{b.detail}</span>}
                </td>
                <td className="mono wrap">{b.receipt ?? '—'}</td>
              </tr>
            )),
          )}
        </tbody>
      </Grid>
      <p className="pad-x" role="status" data-testid="receipts-written">
        {receipts.length > 0
          ? `${receipts.length} receipt${receipts.length === 1 ? '' : 's'} written to ${stickDir.replace(/\/$/, '')}/receipts, signed by this laptop's key ${report.receiptKey ? shortDigest(report.receiptKey) : ''} (its public key is beside them).`
          : 'No receipts written: nothing was applied in this run.'}
      </p>
    </>
  );
}
