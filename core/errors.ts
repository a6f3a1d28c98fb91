/**
 * An error that carries a code from a closed set, so callers (CLI exit statuses, edge-module
 * reports, tests) branch on the code rather than on message text.
 */
export abstract class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}
