// One shape for every CLI command: a name, a one-line summary, usage text, and a run function that
// receives the raw arguments after the command name. Errors thrown as UsageError print the usage.
export interface Command {
  /** e.g. "copy" or "bundle build" (sub-commands are space separated) */
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number | void>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}
