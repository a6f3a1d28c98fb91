// A button that starts a job in main (a sync, a push): the request's error shows beside it, and
// while its job runs (`busy`) it says so and ignores presses instead of turning disabled, so
// keyboard focus stays on it rather than falling back to the page.
import { useState, type ReactNode, type Ref } from 'react';
import type { JobInfo } from '../../../contract/index.js';
import { errorMessage } from '../../app/resource.js';
import { useJobs } from './store.js';

export function JobButton(props: { start: () => Promise<JobInfo>; disabled?: boolean; busy?: boolean; title: string; ref?: Ref<HTMLButtonElement>; children: ReactNode }) {
  const { start, disabled, busy, title, ref, children } = props;
  const put = useJobs((s) => s.put);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="inline-action">
      {error && (
        <span className="error-text" role="alert">
          {error}
        </span>
      )}
      <button
        ref={ref}
        className="button button-primary"
        disabled={disabled}
        aria-disabled={busy || undefined}
        title={title}
        onClick={() => {
          if (busy) return;
          setError(null);
          start()
            .then(put)
            .catch((err: unknown) => setError(errorMessage(err)));
        }}
      >
        {children}
      </button>
    </span>
  );
}
