// Back on shore with the stick: its receipts taken into this inventory (usb.receipts), each checked
// against a known key in main; what was taken marks the images on board, what was refused says why.
import { useState } from 'react';
import type { ReceiptsResult } from '../../../contract/index.js';
import { api } from '../../api/index.js';
import { errorMessage } from '../../app/resource.js';
import { Badge, ErrorBanner, Grid, Section } from '../../ui/parts.js';

export function ReceiptsBack({ stickDir }: { stickDir: string }) {
  const [report, setReport] = useState<ReceiptsResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const take = async () => {
    setError(null);
    setBusy(true);
    try {
      setReport(await api().usb.receipts({ dir: stickDir.trim() }));
    } catch (err) {
      setReport(null);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Receipts into the inventory">
      <div className="form-actions pad-top">
        <button type="button" className="button" disabled={busy || !stickDir.trim()} onClick={() => void take()}>
          Take receipts into the inventory
        </button>
        <span className="muted">On shore: each receipt on the stick is checked against a known key; the images it confirms are marked on board.</span>
      </div>
      <ErrorBanner error={error} />
      {report && (
        <>
          <p className="pad-x" role="status" data-testid="receipts-taken">
            {report.taken.length} taken ({report.taken.filter((t) => t.result === 'applied').length} applied), {report.refused.length} refused
          </p>
          <Grid label="Receipts" columns={['Receipt', 'Device', 'Outcome']} compact>
            <tbody>
              {report.taken.map((t) => (
                <tr key={t.file} data-receipt={t.file}>
                  <td className="mono">{t.file}</td>
                  <td>{t.deviceId}</td>
                  <td>
                    <Badge state={t.result} /> {t.reason && <span className="error-text">{t.reason}</span>} <span className="muted">key from {t.keySource}</span>
                  </td>
                </tr>
              ))}
              {report.refused.map((r) => (
                <tr key={r.file} data-receipt={r.file}>
                  <td className="mono">{r.file}</td>
                  <td>—</td>
                  <td>
                    <Badge state="rejected" /> <span className="error-text">{r.code}: {r.detail}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </Grid>
        </>
      )}
    </Section>
  );
}
