// The `lighter` CLI: the same engine and services as the app, headless, for pipelines.
// Each command lives in commands/<name>.ts and is listed here, the one place that knows them all.
import { UsageError, type Command } from './command.js';

const COMMANDS: Array<() => Promise<{ commands: Command[] }>> = [
  // image I/O
  () => import('./commands/image.js'),
  // delta engine
  () => import('./commands/delta.js'),
  // bundles, keys and signatures
  () => import('./commands/bundle.js'),
  // inventory and planning
  () => import('./commands/db.js'),
  // the app without Electron: loopback bridge + renderer in a browser
  () => import('./commands/console.js'),
];

async function loadCommands(): Promise<Command[]> {
  const all: Command[] = [];
  for (const load of COMMANDS) {
    all.push(...(await load()).commands);
  }
  return all;
}

function help(commands: Command[]): string {
  const w = Math.max(...commands.map((c) => c.name.length), 8);
  return `usage: lighter <command> [options]\n\n${commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join('\n')}\n\nlighter <command> --help shows a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const commands = await loadCommands();
  // Longest name first so "bundle build" wins over a bare "bundle".
  const sorted = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  const cmd = sorted.find((c) => c.name.split(' ').every((part, i) => argv[i] === part));
  if (!cmd || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(help(commands));
    return cmd || argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' ? 0 : 2;
  }
  const rest = argv.slice(cmd.name.split(' ').length);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage.trimEnd()}\n`);
    return 0;
  }
  try {
    return (await cmd.run(rest)) ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`lighter ${cmd.name}: ${err.message}\n${cmd.usage.trimEnd()}\n`);
      return 2;
    }
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`lighter ${cmd.name}: ${msg.split('\n')[0]}\n`);
    if (process.env.LIGHTER_DEBUG) console.error(err);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err) => {
    process.stderr.write(`lighter: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
