// `lighter console`: the desktop app without Electron. Serves the renderer and the IPC contract on
// 127.0.0.1 through the loopback bridge and opens it in the default browser.
import { spawn } from 'node:child_process';
import { startBridge } from '../../bridge/server.js';
import { buildServices, rendererDir } from '../../services.js';
import { defineCommand, UsageError } from '../command.js';

function openInBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
  // No opener (a headless box) is fine: the URL is printed above.
  child.on('error', () => process.stderr.write(`could not start ${opener}; open the URL above in a browser\n`));
  child.unref();
}

const consoleCommand = defineCommand({
  name: 'console',
  summary: 'run the app in a browser (loopback bridge on 127.0.0.1, token-protected)',
  details: `  Serves the app at http://127.0.0.1:PORT/ for this machine only; the printed URL carries a token
  that changes on every run. Runs until interrupted (Ctrl-C).`,
  options: {
    port: { type: 'string', value: 'N', default: '0', help: 'port to listen on (0: any free port)' },
    db: { type: 'string', value: 'FILE', help: "inventory database (default: the app's data directory, created on first use)" },
    'no-open': { type: 'boolean', help: 'print the URL but do not open a browser' },
  },
  async run({ opts }) {
    const port = Number(opts.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, not ${JSON.stringify(opts.port)}`);

    // The app face syncs its hubs in the background (every few minutes, backing off while they fail).
    const services = await buildServices({ database: opts.db, shell: 'bridge', backgroundSync: {} });
    let bridge;
    try {
      bridge = await startBridge({ handlers: services.handlers, events: services.events, rendererDir: rendererDir(), port });
    } catch (err) {
      await services.close();
      throw err;
    }
    process.stdout.write(`Lighter console at ${bridge.url}\n(this URL is the key: it works for this run only, on this machine only)\n`);
    if (!opts['no-open']) openInBrowser(bridge.url);

    await new Promise<void>((done) => {
      const stop = () => done();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await bridge.close();
    await services.close();
  },
});

export const commands = [consoleCommand];
