// The form pieces every view repeats: a labelled text field, and a form with its fields, one
// submit button, a hint and the error of the last attempt. The submit handler gets no event: the
// form prevents the page reload itself, so no view forgets to.
import type { InputHTMLAttributes, ReactNode } from 'react';
import { ErrorBanner } from './parts.js';

type InputProps = Omit<InputHTMLAttributes<HTMLInputElement>, 'id' | 'value' | 'onChange'>;

/** A label and its text input, as two cells of a `Form`'s grid (or of a `Form inline` row). */
export function TextField({ id, label, value, onChange, ...input }: { id: string; label: string; value: string; onChange(value: string): void } & InputProps) {
  return (
    <>
        <label htmlFor={id}>{label}</label>
        <input id={id} value={value} onChange={(e) => onChange(e.target.value)} {...input} />
    </>
  );
}

export interface FormProps {
  onSubmit(): void | Promise<void>;
  /** the submit button's text */
  submit: ReactNode;
  /** the submit button is off (nothing to send yet, or a job of it is running): it stays focusable and does nothing */
  disabled?: boolean;
  /** what the submit does, beside the button */
  hint?: ReactNode;
  error?: string | null;
  /** the fields and the button on one row instead of a label/field grid */
  inline?: boolean;
  children: ReactNode;
}

export function Form({ onSubmit, submit, disabled, hint, error, inline, children }: FormProps) {
  // Off is aria-disabled, not disabled: a button turning disabled under the key that pressed it
  // (a job it started is running) drops keyboard focus to the page; this one keeps it.
  const button = (
    <button type="submit" className="button button-primary" aria-disabled={disabled || undefined}>
      {submit}
    </button>
  );
  return (
    <>
    <form
      className={inline ? 'form-actions pad-top' : undefined}
      onSubmit={(e) => {
        e.preventDefault();
        if (!disabled) void onSubmit();
      }}
    >
      {inline ? (
        <>
          {children}
          {button}
          {hint && <span className="muted">{hint}</span>}
        </>
      ) : (
        <>
          <div className="form-grid">{children}</div>
          <div className="form-actions">
            {button}
            {hint && <span className="muted">{hint}</span>}
          </div>
        </>
      )}
    </form>
    {error && (
      <div className="pad-x">
        <ErrorBanner error={error} />
      </div>
    )}
    </>
  );
}
