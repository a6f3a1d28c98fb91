// The `lighter` CLI: the same engine and services as the app, headless, for pipelines.
// Each command lives in commands/<area>.ts (written as command.ts says) and is listed in
// modules.ts, the one place that knows them all.
import { Command as Commander, CommanderError } from 'commander';
import { exitOnClosedOutput } from '../../io/closed-output.js';
import { sweepScratch } from '../../io/scratch.js';
import { appVersion } from '../services.js';
import { addCommand, configure } from './command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, exitStatusTable } from './exit-status.js';
import { MODULES } from './modules.js';

/** What the group commands (the first word of a two-word command) say in `lighter --help`. */
const GROUPS: Record<string, string> = {
  keys: 'signing keys for bundles',
  bundle: 'build, verify, apply and inspect signed bundles',
  db: 'the inventory: devices, the images they have, deployments',
  hub: 'IoT Hub: connections, sync what devices hold, push manifests',
  notify: 'notifications for the people who ordered deployments, and their mail',
  upload: 'upload bundles to a storage account: the queue, its order, pause, resume, cancel',
  deployment: 'deployments: create, build their bundles once, show',
  usb: 'bundles onto USB sticks, applied on board, receipts back',
};

async function program(argv: string[], onExit: (status: number) => void): Promise<Commander> {
  const root = configure(new Commander('lighter'))
    // `lighter --version` is the program's; `bundle build --version N` is the bundle's.
    .enablePositionalOptions()
    .version(appVersion(), '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .addHelpText('after', `\nlighter <command> --help shows a command's options.\nlighter edge run|restore|prune|fetch: the device's edge module (docs/edge-module.md; bin/lighter.js starts it).\n\nExit status (docs/cli.md):\n${exitStatusTable()}`);
  const named = MODULES.filter((m) => m.words.includes(argv[0] ?? ''));
  for (const m of named.length ? named : MODULES) {
    for (const spec of (await m.load()).commands) addCommand(root, spec, onExit);
  }
  for (const group of root.commands) if (GROUPS[group.name()]) group.summary(GROUPS[group.name()]!).description(GROUPS[group.name()]!);
  return root;
}

export async function main(argv: string[]): Promise<number> {
  // what killed runs left in <data>/tmp goes first; a sweep that fails must not stop the command
  await sweepScratch().catch(() => undefined);
  let status = EXIT_OK;
  const root = await program(argv, (s) => (status = s));
  if (argv.length === 0) {
    root.outputHelp();
    return EXIT_OK;
  }
  try {
    await root.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // Commander has printed the message (and the usage, once); --help and --version end here too.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT_OK : EXIT_USAGE;
  }
  return status;
}

exitOnClosedOutput(); // `lighter ... | head` ends quietly

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`lighter: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = EXIT_FAILURE;
  },
);
