// Azurite's blob service from node_modules on a free loopback port with its own workspace, started
// by the test that needs it and stopped by it. The account is Azurite's well-known development
// account (its key is public, printed in Azure's own docs), so nothing secret is involved.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './registry.js';

export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface TestAzurite {
  /** host:port of the blob endpoint, e.g. 127.0.0.1:41234 */
  host: string;
  /** a connection string for the development account at `host` (or at another host:port, e.g. a proxy in front) */
  connectionString(host?: string): string;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<TestAzurite> {
  const dir = mkdtempSync(join(tmpdir(), 'lighter-azurite-'));
  const port = await freePort();
  const main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  const proc: ChildProcess = spawn(
    process.execPath,
    [main, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir, '--skipApiVersionCheck', '--disableTelemetry', '--loose', '--silent'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`azurite-blob exited: ${output}`);
    if (i > 300) throw new Error(`azurite-blob did not listen on ${host} within 30 s: ${output}`);
    try {
      // Any HTTP answer (an auth error, here) means the blob service is up.
      await fetch(`http://${host}/${AZURITE_ACCOUNT}?comp=list`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    host,
    connectionString: (at = host) => `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://${at}/${AZURITE_ACCOUNT};`,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => proc.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Azurite for the calling test file: started before its tests, stopped after them. */
export function useAzurite(): TestAzurite {
  let running: TestAzurite | undefined;
  beforeAll(async () => {
    running = await startAzurite();
  });
  afterAll(async () => {
    await running?.stop();
  });
  const started = (): TestAzurite => {
    if (!running) throw new Error('useAzurite: Azurite starts in beforeAll; use it inside tests');
    return running;
  };
  return {
    get host() {
      return started().host;
    },
    connectionString: (host) => started().connectionString(host),
    stop: () => started().stop(),
  };
}
