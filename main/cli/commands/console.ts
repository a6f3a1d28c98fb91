// `lighter console`: the desktop app without Electron. Serves the renderer and the IPC contract on
// 127.0.0.1 through the loopback bridge and opens it in the default browser.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startBridge } from '../../bridge/server.js';
import { buildServices, rendererDir } from '../../services.js';
import { UsageError, type Command } from '../command.js';

function openInBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  // No opener (a headless box) is fine: the URL is printed above.
  child.on('error', () => process.stderr.write(`could not start ${opener}; open the URL above in a browser\n`));
  child.unref();
}

const consoleCommand: Command = {
  name: 'console',
  summary: 'run the app in a browser (loopback bridge on 127.0.0.1, token-protected)',
  usage: `usage: lighter console [--port N] [--db FILE] [--no-open]
  Serves the app at http://127.0.0.1:PORT/ for this machine only; the printed URL carries a token
  that changes on every run. Runs until interrupted (Ctrl-C).
  --port N    port to listen on (default 0: any free port)
  --db FILE   inventory database (default: the app's data directory, created on first use)
  --no-open   print the URL but do not open a browser`,
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({ args, options: { port: { type: 'string' }, db: { type: 'string' }, 'no-open': { type: 'boolean' } }, strict: true }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, not ${JSON.stringify(values.port)}`);

    const services = await buildServices({ database: values.db, shell: 'bridge' });
    let bridge;
    try {
      bridge = await startBridge({ handlers: services.handlers, events: services.events, rendererDir: rendererDir(), port });
    } catch (err) {
      await services.close();
      throw err;
    }
    process.stdout.write(`Lighter console at ${bridge.url}\n(this URL is the key: it works for this run only, on this machine only)\n`);
    if (!values['no-open']) openInBrowser(bridge.url);

    await new Promise<void>((done) => {
      const stop = () => done();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await bridge.close();
    await services.close();
  },
};

export const commands: Command[] = [consoleCommand];
