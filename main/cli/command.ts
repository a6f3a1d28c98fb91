// How to add a command (copy this; every `lighter` command is written this way):
//
//   1. In main/cli/commands/<area>.ts, export `commands = [defineCommand({...}), ...]`:
//        defineCommand({
//          name: 'bundle verify',                 // sub-commands are space separated
//          summary: 'check a bundle: ...',        // one line, shown in `lighter --help`
//          details: `Checks ...`,                 // optional prose for `lighter bundle verify --help`
//          args: ['FILE'],                        // positionals: NAME required, [NAME] optional, NAME... many
//          options: { pubkey: { type: 'string', value: 'KEY', required: true, help: '...' } },
//          json: true,                            // adds --json; then print the result with ctx.result
//          inventory: true,                       // adds --db and --user; then ctx.services() opens them
//          async run({ args, opts, result, log }) { ... },
//        })
//      Option keys are the long flag without dashes ('from-signature'); values arrive under the same
//      key, typed (string | undefined, string when required or defaulted, string[] when multiple,
//      boolean). A boolean key 'no-x' is --no-x and is true when given.
//   2. If <area>.ts is new, add it to main/cli/modules.ts (the one list of command modules) with the
//      first words of its commands.
//   3. Results go to stdout through `result(data, human)` (JSON with --json, `human(data)` without);
//      notes go to stderr (`log(line)`); long work runs as a job whose bar goes to stderr
//      (`runJob(standaloneJobs(), {...}, run)` from progress.ts, or the services' jobs). Throw UsageError for bad
//      usage (exit 2, usage printed once); any other error exits with its status (exit-status.ts).
//   4. Services come from main/services.ts; a command writes no SQL and constructs no service itself.
//      A command over the inventory says `inventory: true` and calls `await services()` when it needs
//      them (after any work that must come first); they are closed when the command ends.
import { Command as Commander, Option } from 'commander';
import { openServices, type CoreOptions, type CoreServices } from '../services.js';
import { EXIT_USAGE, exitStatus } from './exit-status.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A number given as text (an option's value or an argument) that must be a whole number ≥ 1. */
export function positiveInteger(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${what} must be a positive whole number, not ${JSON.stringify(text)}`);
  return n;
}

interface OptionBase {
  help: string;
  short?: string;
  /**
   * An option no longer accepted (e.g. one that put a password on the command line): hidden from
   * help, and giving it is a usage error with this message, which says what to use instead.
   */
  refused?: string;
}
export interface BooleanOption extends OptionBase {
  type: 'boolean';
}
export interface StringOption extends OptionBase {
  type: 'string';
  /** the placeholder shown in help, e.g. FILE */
  value: string;
  required?: boolean;
  multiple?: boolean;
  default?: string;
  choices?: readonly string[];
}
export type OptionSpec = BooleanOption | StringOption;
export type OptionSpecs = Record<string, OptionSpec>;

export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: O[K] extends BooleanOption
    ? boolean
    : O[K] extends { multiple: true }
      ? string[]
      : O[K] extends { required: true } | { default: string }
        ? O[K] extends { choices: readonly (infer C)[] } ? C : string
        : (O[K] extends { choices: readonly (infer C)[] } ? C : string) | undefined;
};

export interface RunContext<O extends OptionSpecs> {
  /** the positionals, in the order `args` declares them (a NAME... one spreads to the end) */
  args: string[];
  opts: OptionValues<O>;
  /** whether --json was given (commands with `json: true`) */
  json: boolean;
  /** the command's result on stdout: JSON with --json (or without `human`), else human(data) */
  result<T>(data: T, human?: (data: T) => string): void;
  /** a human note on stderr */
  log(line: string): void;
}

/** What a command over the inventory may add when it opens the services. */
export type InventoryExtras = Pick<CoreOptions, 'create' | 'container' | 'order'>;

export interface InventoryContext {
  /** the services over the --db inventory as --user: opened by the first call (with its extras), closed when the command ends */
  services(extras?: InventoryExtras): Promise<CoreServices>;
}

/** The options of every command over the inventory (`inventory: true` adds them). */
export const INVENTORY = {
  db: { type: 'string', value: 'FILE', help: "the inventory database (default: the app's data directory)" },
  user: { type: 'string', value: 'NAME', help: 'who is acting, for the audit log (default: $LIGHTER_USER or the login name)' },
} as const;

export interface CommandSpec<O extends OptionSpecs = OptionSpecs, I extends boolean = boolean> {
  name: string;
  summary: string;
  details?: string;
  args?: string[];
  options?: O;
  json?: boolean;
  /** the command works on the inventory: --db and --user, and `services` in its context */
  inventory?: I;
  run(ctx: I extends true ? RunContext<typeof INVENTORY & O> & InventoryContext : RunContext<O>): Promise<number | void>;
}

/** Identity, for typing: `opts` in `run` gets the types the `options` declare. */
export function defineCommand<const O extends OptionSpecs = Record<never, never>, I extends boolean = false>(spec: CommandSpec<O, I>): CommandSpec {
  return spec as unknown as CommandSpec;
}

/** The services `spec` asks for, opened once on demand; `close` closes what was opened. */
function inventoryContext(opts: Record<string, unknown>): InventoryContext & { close(): Promise<void> } {
  let opened: Promise<CoreServices> | undefined;
  const db = opts.db as string | undefined;
  const user = opts.user as string | undefined;
  return {
    services: (extras = {}) => (opened ??= openServices({ ...(db ? { database: db } : {}), ...(user ? { user } : {}), ...extras })),
    // a failed open has nothing to close; its error is the command's already
    close: async () => opened?.then((s) => s.close(), () => undefined),
  };
}

function writeResult(json: boolean, data: unknown, human?: (data: never) => string): void {
  const text = json || !human ? JSON.stringify(data, null, 2) : (human as (d: unknown) => string)(data);
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Adds `spec` under `parent` (creating group commands such as `bundle` on the way) and returns it. */
export function addCommand(parent: Commander, spec: CommandSpec, onExit: (status: number) => void): Commander {
  const words = spec.name.split(' ');
  let at = parent;
  for (const group of words.slice(0, -1)) {
    at = at.commands.find((c) => c.name() === group) ?? configure(at.command(group));
  }
  const cmd = configure(at.command(words.at(-1)!));
  cmd.summary(spec.summary).description(spec.details ? `${spec.summary}\n\n${reflow(spec.details)}` : spec.summary);
  for (const a of spec.args ?? []) cmd.argument(a.startsWith('[') ? a : `<${a}>`);
  const options: Array<[string, Option, OptionSpec]> = [];
  const specs: OptionSpecs = { ...(spec.inventory ? INVENTORY : {}), ...spec.options, ...(spec.json ? { json: { type: 'boolean', help: 'print the result as JSON' } } : {}) };
  for (const [key, o] of Object.entries(specs)) {
    const long = `--${key}`;
    const flags = `${o.short ? `-${o.short}, ` : ''}${long}${o.type === 'string' ? ` <${o.value}>` : ''}`;
    const opt = new Option(flags, o.help);
    if (o.type === 'string') {
      if (o.required) opt.makeOptionMandatory();
      if (o.multiple) opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
      if (o.default !== undefined) opt.default(o.default);
      if (o.choices) opt.choices(o.choices);
    }
    if (o.refused) opt.hideHelp();
    cmd.addOption(opt);
    options.push([key, opt, o]);
  }
  cmd.action(async (...received: unknown[]) => {
    const args = received.slice(0, spec.args?.length ?? 0).flatMap((a) => (a === undefined ? [] : Array.isArray(a) ? (a as string[]) : [a as string]));
    const opts: Record<string, unknown> = {};
    for (const [key, opt, o] of options) {
      const v: unknown = cmd.getOptionValue(opt.attributeName());
      // --no-x is stored by commander as x=false; the spec names it as given.
      opts[key] = o.type === 'boolean' ? (opt.negate ? v === false : v === true) : o.multiple ? (v ?? []) : v;
    }
    const json = opts.json === true;
    const inventory = spec.inventory ? inventoryContext(opts) : undefined;
    try {
      for (const [key, , o] of options) if (o.refused && opts[key] !== undefined && opts[key] !== false) throw new UsageError(`--${key} ${o.refused}`);
      let status: number | void;
      try {
        status = await spec.run({
          args,
          opts,
          json,
          result: (data, human) => writeResult(json, data, human as ((d: never) => string) | undefined),
          log: (line) => process.stderr.write(`${line}\n`),
          ...(inventory ? { services: inventory.services } : {}),
        } as RunContext<OptionSpecs> & InventoryContext);
      } finally {
        await inventory?.close();
      }
      onExit(status ?? 0);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      // A usage error shows the usage; anything else one line a pipeline log can carry.
      process.stderr.write(`${fullName(cmd)}: ${err instanceof UsageError ? `${msg}\n${cmd.helpInformation({ error: true })}` : `${msg.split('\n')[0]}\n`}`);
      if (process.env.LIGHTER_DEBUG && !(err instanceof UsageError)) console.error(err);
      onExit(err instanceof UsageError ? EXIT_USAGE : exitStatus(err));
    }
  });
  return cmd;
}

/** Prose paragraphs as one line each: commander wraps them to the terminal. */
function reflow(text: string): string {
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((p) => p.split('\n').map((l) => l.trim()).join(' '))
    .join('\n\n');
}

/** "lighter bundle verify" for the command `verify` under `bundle`. */
export function fullName(cmd: Commander): string {
  const names: string[] = [];
  for (let c: Commander | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * What every command shares: errors as `lighter <command>: <message>` followed by its usage (once),
 * help on stdout, errors thrown to the caller (index.ts) instead of exiting here.
 */
export function configure(cmd: Commander): Commander {
  const name = fullName(cmd);
  return cmd
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ outputError: (msg, write) => write(`${name}: ${msg.replace(/^error: /, '')}`) });
}
