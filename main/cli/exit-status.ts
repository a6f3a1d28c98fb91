// The exit statuses of `lighter`, one per way a bundle can be refused, so a pipeline or the crew's
// script can tell tampering from a short copy without parsing messages. docs/cli.md shows this table
// (a test keeps the two equal); statuses are part of the CLI's interface: never renumber one.
import { BundleError, type BundleErrorCode } from '../../core/bundle/errors.js';
import { EXIT_CLOSED_PIPE } from '../../io/closed-output.js';

export const EXIT_OK = 0;
/** anything that is not a usage error or a bundle refusal: a missing file, a registry error, ... */
export const EXIT_FAILURE = 1;
/** unknown command or option, a missing or extra argument, a bad option value */
export const EXIT_USAGE = 2;
/** stdout's or stderr's reader closed it (io/closed-output.ts) */
export { EXIT_CLOSED_PIPE };

/** A bundle refusal exits with the status of its code (10-19 the file, 20-29 trust, 30-39 content). */
export const BUNDLE_EXIT: Record<BundleErrorCode, number> = {
  'not-a-bundle': 10,
  'unsupported-format': 11,
  truncated: 12,
  'trailing-data': 13,
  'too-large': 14,
  'read-error': 15,
  unsigned: 20,
  'wrong-key': 21,
  'bad-signature': 22,
  'malformed-manifest': 23,
  'bad-id': 24,
  replay: 25,
  expired: 26,
  'part-digest': 30,
  'layer-digest': 31,
  'decompression-bomb': 32,
  'unsafe-entry': 33,
  'no-matching-base': 34,
};

export function exitStatus(err: unknown): number {
  return err instanceof BundleError ? BUNDLE_EXIT[err.code] : EXIT_FAILURE;
}

/** The table for `lighter --help` and docs/cli.md. */
export function exitStatusTable(): string {
  const rows: Array<[number, string]> = [
    [EXIT_OK, 'success'],
    [EXIT_FAILURE, 'failed (the message says why: a missing file, a registry error, ...)'],
    [EXIT_USAGE, 'usage: unknown command or option, missing or extra argument'],
    ...Object.entries(BUNDLE_EXIT).map(([code, status]): [number, string] => [status, `bundle refused: ${code}`]),
    [EXIT_CLOSED_PIPE, 'output closed by its reader (`head`, `grep -q`): quietly, as a program killed by SIGPIPE'],
  ];
  return rows.map(([status, what]) => `  ${String(status).padStart(3)}  ${what}`).join('\n');
}
