// `lighter edge run|restore|prune`. The edge module is its own program (the device runs it, not
// the shore CLI): bin/lighter-edge.js starts it in the module's container, and bin/lighter.js hands
// `lighter edge ...` to it, because the layer table lets neither main/ import edge-module/ nor the
// edge module carry main/'s dependencies. Options are parsed with node:util (no extra package on
// the device).
import { promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { join } from 'node:path';
import { loadVerifier } from '../io/keys.js';
import { identityOf, redact, type HubConfig } from './hub.js';
import { prune, restore } from './maintenance.js';
import { EdgeModule, type ModuleOptions } from './module.js';
import { Store } from './store.js';

class UsageError extends Error {}

const USAGE = `usage: lighter edge run --inbox DIR --receipts DIR --state DIR --trust PUBKEY... --registry HOST:PORT
                        [--docker] [--hub-connection-string CS | --no-hub] [--hub-ca FILE] [--once]
       lighter edge restore --state DIR --registry HOST:PORT [--deployment FILE]
       lighter edge prune --state DIR --registry HOST:PORT [--inbox DIR] [--deployment FILE] [--no-keep-previous] [--dry-run]
       lighter edge fetch --inbox DIR --state DIR --device-id ID [--once] [--poll-ms N]

run      watch the inbox, apply each complete bundle into the local registry (and Docker with
         --docker), report to the module twin, a D2C message and a signed receipt per bundle.
         Inside IoT Edge the hub connection comes from the environment; outside, from
         --hub-connection-string or $LIGHTER_EDGE_HUB_CONNECTION_STRING (a module or device connection
         string; the variable keeps it out of the process list). --no-hub keeps reports in the outbox.
         --once takes what is complete now, sends what it can, and exits.
restore  load every image of the current deployment from the store into Docker (no network).
fetch    follow this device's index blob in the shore's storage container (docs/transfers.md) and
         bring each bundle it names, checked against the index's size and sha256, into the inbox;
         each is fetched once. The container's SAS URL (read and list are enough) comes from
         $LIGHTER_EDGE_STORAGE_SAS_URL, never the command line. --poll-ms: between looks (60000).
prune    remove store images the deployment does not use and no queued bundle needs as a base,
         keeping the previous version of each unless --no-keep-previous; prints bytes freed.

more run options: --device-id ID --module-id ID (with --no-hub; default the host name and "lighter"), --store-quota BYTES, --store-dir DIR,
  --docker-socket PATH, --settle-ms N (5000), --stale-ms N (600000), --poll-ms N (2000),
  --retry-ms N (60000), --hub-retry-ms N (15000)`;

function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ strict: true, allowPositionals: false, ...config });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function need<T>(v: T | undefined, flag: string): T {
  if (v === undefined) throw new UsageError(`${flag} is required`);
  return v;
}

function int(v: string | undefined, flag: string, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, not ${v}`);
  return n;
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${redact(line)}\n`);

async function hubConfig(values: { 'hub-connection-string'?: string; 'no-hub'?: boolean; 'hub-ca'?: string }): Promise<HubConfig | null> {
  if (values['no-hub']) return null;
  const cs = values['hub-connection-string'] ?? process.env.LIGHTER_EDGE_HUB_CONNECTION_STRING;
  if (cs) return { kind: 'connection-string', connectionString: cs, ...(values['hub-ca'] ? { ca: await fs.readFile(values['hub-ca'], 'utf8') } : {}) };
  if (process.env.IOTEDGE_WORKLOADURI || process.env.EdgeHubConnectionString) return { kind: 'environment' };
  throw new UsageError('no hub: give --hub-connection-string (or $LIGHTER_EDGE_HUB_CONNECTION_STRING), run inside IoT Edge, or say --no-hub');
}

async function run(args: string[]): Promise<number> {
  const { values } = parse({
    args,
    options: {
      inbox: { type: 'string' },
      receipts: { type: 'string' },
      state: { type: 'string' },
      trust: { type: 'string', multiple: true },
      registry: { type: 'string' },
      docker: { type: 'boolean' },
      'docker-socket': { type: 'string' },
      'hub-connection-string': { type: 'string' },
      'no-hub': { type: 'boolean' },
      'hub-ca': { type: 'string' },
      once: { type: 'boolean' },
      'device-id': { type: 'string' },
      'module-id': { type: 'string' },
      'store-quota': { type: 'string' },
      'store-dir': { type: 'string' },
      'settle-ms': { type: 'string' },
      'stale-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      'retry-ms': { type: 'string' },
      'hub-retry-ms': { type: 'string' },
    },
  });
  if (values['no-hub'] && values['hub-connection-string']) throw new UsageError('--no-hub and --hub-connection-string exclude each other');
  if (!values['no-hub'] && (values['device-id'] || values['module-id'])) throw new UsageError('--device-id and --module-id are for --no-hub; with a hub the identity is the connection\'s');
  const trust = need(values.trust, '--trust');
  const hub = await hubConfig(values);
  const ids = hub?.kind === 'connection-string' ? identityOf(hub.connectionString) : { deviceId: EdgeModule.defaultDeviceId(), moduleId: process.env.IOTEDGE_MODULEID };
  const quota = int(values['store-quota'], '--store-quota');
  const opts: ModuleOptions = {
    inbox: need(values.inbox, '--inbox'),
    receipts: need(values.receipts, '--receipts'),
    stateDir: need(values.state, '--state'),
    trusted: await Promise.all(trust.map((t) => loadVerifier(t))),
    registry: need(values.registry, '--registry'),
    ...(values.docker || values['docker-socket'] ? { docker: values['docker-socket'] ? { socket: values['docker-socket'] } : {} } : {}),
    hub,
    ...(values['device-id'] ? { deviceId: values['device-id'] } : {}),
    ...(values['module-id'] ? { moduleId: values['module-id'] } : {}),
    ...(quota !== undefined ? { quotaBytes: quota } : {}),
    ...(values['store-dir'] ? { storeDir: values['store-dir'] } : {}),
    settleMs: int(values['settle-ms'], '--settle-ms', 5000)!,
    staleMs: int(values['stale-ms'], '--stale-ms', 600_000)!,
    pollMs: int(values['poll-ms'], '--poll-ms', 2000)!,
    retryMs: int(values['retry-ms'], '--retry-ms', 60_000)!,
    hubRetryMs: int(values['hub-retry-ms'], '--hub-retry-ms', 15_000)!,
    log,
  };
  await fs.mkdir(opts.inbox, { recursive: true });
  const module = new EdgeModule(opts, ids);
  await module.start();
  const stop = () => void module.stop();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (values.once) {
    await module.runOnce();
    await module.stop();
    return 0;
  }
  await module.run();
  return 0;
}

async function restoreCommand(args: string[]): Promise<number> {
  const { values } = parse({ args, options: { state: { type: 'string' }, registry: { type: 'string' }, deployment: { type: 'string' }, 'docker-socket': { type: 'string' } } });
  const stateDir = need(values.state, '--state');
  const store = new Store(need(values.registry, '--registry'), { storeDir: stateDir });
  const r = await restore(store, stateDir, { ...(values.deployment ? { deployment: values.deployment } : {}), ...(values['docker-socket'] ? { dockerSocket: values['docker-socket'] } : {}), log });
  process.stdout.write(`restored ${r.restored.length} image(s)${r.missing.length ? `; not in the store: ${r.missing.join(', ')}` : ''}\n`);
  return r.missing.length ? 1 : 0;
}

async function pruneCommand(args: string[]): Promise<number> {
  const { values } = parse({
    args,
    options: { state: { type: 'string' }, registry: { type: 'string' }, inbox: { type: 'string' }, deployment: { type: 'string' }, 'no-keep-previous': { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
  });
  const stateDir = need(values.state, '--state');
  const store = new Store(need(values.registry, '--registry'), { storeDir: stateDir });
  const r = await prune(store, stateDir, {
    ...(values.inbox ? { inbox: values.inbox } : {}),
    ...(values.deployment ? { deployment: values.deployment } : {}),
    keepPrevious: !values['no-keep-previous'],
    dryRun: values['dry-run'] ?? false,
    log,
  });
  process.stdout.write(`${values['dry-run'] ? 'would remove' : 'removed'} ${r.removed.length} image(s), kept ${r.kept.length}; ${r.freedBytes} bytes freed (reclaimed at the registry's garbage collection)\n`);
  return 0;
}

async function fetchCommand(args: string[]): Promise<number> {
  const { values } = parse({ args, options: { inbox: { type: 'string' }, state: { type: 'string' }, 'device-id': { type: 'string' }, once: { type: 'boolean' }, 'poll-ms': { type: 'string' } } });
  const sas = process.env.LIGHTER_EDGE_STORAGE_SAS_URL;
  if (!sas) throw new UsageError('set $LIGHTER_EDGE_STORAGE_SAS_URL to the storage container SAS URL');
  // The Azure Blob SDK loads here only: `run` on a device that never fetches is ~20 MB lighter.
  const [{ fetchDeviceBundles }, { containerClient, describeBlobError, parseStorageCredential }] = await Promise.all([import('../io/blob/device-index.js'), import('../io/blob/storage.js')]);
  const container = containerClient(parseStorageCredential(sas));
  const inbox = need(values.inbox, '--inbox');
  const state = need(values.state, '--state');
  const deviceId = need(values['device-id'], '--device-id');
  const pollMs = int(values['poll-ms'], '--poll-ms', 60_000)!;
  await fs.mkdir(inbox, { recursive: true });
  await fs.mkdir(state, { recursive: true });
  const stop = new AbortController();
  const onSignal = () => stop.abort(new Error('stopped'));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const pass = () => fetchDeviceBundles({ container, deviceId, inbox, stateFile: join(state, 'fetched.json'), signal: stop.signal, log });
  if (values.once) {
    const r = await pass();
    process.stdout.write(`fetched ${r.fetched.length} of ${r.known} bundle(s) the index names\n`);
    return 0;
  }
  while (!stop.signal.aborted) {
    // The link comes and goes: a failed pass is logged and the next one tries again.
    await pass().catch((err: unknown) => stop.signal.aborted || log(`fetch failed: ${describeBlobError(err)}`));
    await sleep(pollMs, undefined, { signal: stop.signal }).catch(() => undefined);
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return sub ? 0 : 2;
  }
  const commands: Record<string, (a: string[]) => Promise<number>> = { run, restore: restoreCommand, prune: pruneCommand, fetch: fetchCommand };
  const cmd = commands[sub];
  if (!cmd) {
    process.stderr.write(`lighter edge: unknown command ${sub}\n${USAGE}\n`);
    return 2;
  }
  try {
    return await cmd(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`lighter edge ${sub}: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    // The message only, redacted: a stack or an SDK error object may carry a connection string.
    process.stderr.write(`lighter edge ${sub}: ${redact(err instanceof Error ? err.message : String(err))}\n`);
    return 1;
  }
}
