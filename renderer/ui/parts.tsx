// Small presentational pieces every screen uses: state badges, empty and error states, stat tiles,
// a shell command shown as something to copy, and the grid table with its column heads.
import type { ReactNode } from 'react';
import { stateLabel, type AnyState } from '../../core/states.js';

type Tone = 'ok' | 'info' | 'warn' | 'bad' | 'muted';

// Every state of core/states.ts has a tone (a new state fails to compile until it gets one), plus
// the device connection and job-cancel badges.
const TONE: Record<AnyState | 'connected' | 'disconnected' | 'cancelling', Tone> = {
  present: 'ok',
  applied: 'ok',
  succeeded: 'ok',
  pushed: 'ok',
  ready: 'ok',
  verified: 'ok',
  connected: 'ok',
  in_transit: 'info',
  cancelling: 'warn',
  interrupted: 'warn',
  running: 'info',
  built: 'info',
  transferring: 'info',
  planned: 'info',
  queued: 'muted',
  draft: 'muted',
  cancelled: 'muted',
  disconnected: 'warn',
  failed: 'bad',
  rejected: 'bad',
};


export function Badge({ state, count }: { state: string; count?: number }) {
  const tone = (TONE as Record<string, Tone>)[state.toLowerCase()] ?? 'muted';
  return (
    <span className={`badge badge-${tone}`} data-state={state}>
      {count !== undefined && <b>{count}</b>}
      {stateLabel(state.toLowerCase())}
    </span>
  );
}

export function Cmd({ children }: { children: string }) {
  return <code className="cmd">{children}</code>;
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="status">
      <h3>{title}</h3>
      {children && <p>{children}</p>}
    </div>
  );
}

export function ErrorBanner({ error }: { error: string | null }) {
  if (!error) return null;
  return (
    <div className="error-banner" role="alert">
      {error}
    </div>
  );
}

export function Stat({ label, value, sub, tone }: { label: string; value: ReactNode; sub?: ReactNode; tone?: 'bad' | 'info' }) {
  return (
    <div className={`stat${tone ? ` stat-${tone}` : ''}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value">{value}</div>
      {sub !== undefined && <div className="stat-sub">{sub}</div>}
    </div>
  );
}

export function Section({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="section">
      <header className="section-head">
        <h2>{title}</h2>
        {actions && <div className="section-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

/** A column head of a Grid: its label, right-aligned when the column holds numbers. */
export type Column = string | { label: string; num: true };

/** A table in the app's grid style: the column heads, then the body the caller renders. */
export function Grid({ columns, label, compact, children }: { columns: Column[]; label?: string; compact?: boolean; children: ReactNode }) {
  return (
    <table className={compact ? 'grid compact' : 'grid'} aria-label={label}>
      <thead>
        <tr>
          {columns.map((c) => (typeof c === 'string' ? <th key={c}>{c}</th> : <th key={c.label} className="num">{c.label}</th>))}
        </tr>
      </thead>
      {children}
    </table>
  );
}
