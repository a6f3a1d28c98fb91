// `lighter upload ...`: the upload queue (docs/transfers.md). Queue a deployment's bundles, work
// the queue under a rate cap, and pause, resume or cancel single transfers, also while a runner works.
import { TRANSFER_STATES } from '../../../core/states.js';
import { parseOrder } from '../../../core/transfers/queue-order.js';
import { formatBytes, formatDuration, parseRate } from '../../../core/units.js';
import type { CoreServices } from '../../services.js';
import type { UploadItem } from '../../transfers/upload-store.js';
import { defineCommand, positiveInteger, UsageError, type InventoryContext } from '../command.js';
import { readStdin } from '../stdin.js';

/** The upload services, in the --order and with the --container a command has (if it has them). */
async function uploads(services: InventoryContext['services'], opts: { container?: string | undefined; order?: string | undefined; [option: string]: unknown }): Promise<CoreServices['uploads']> {
  let order;
  try {
    order = opts.order ? parseOrder(opts.order) : undefined;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return (await services({ container: opts.container, order })).uploads;
}

const transferId = (text: string) => positiveInteger(text, 'transfer id');

function line(t: UploadItem): string {
  const state = t.pausedAt && t.state === 'queued' ? 'paused' : t.state;
  const due = t.dueAt ? ` due ${t.dueAt.slice(0, 10)}` : '';
  const dep = t.deployment ? ` ${t.deployment} (priority ${t.priority}${due})` : '';
  const err = t.lastError && t.state === 'failed' ? `: ${t.lastError}` : '';
  return `#${t.id}  ${state.padEnd(9)} ${t.deviceId}  ${t.bundleId.slice(0, 19)}  ${formatBytes(t.size)}${dep}${err}`;
}

const queue = defineCommand({
  name: 'upload queue',
  summary: "queue an upload of each bundle a deployment's devices need",
  details: `  Creates one upload transfer per (device, bundle) the deployment's build recorded, unless one is
  queued, running, done or failed already. The queue's order: docs/transfers.md.`,
  options: { deployment: { type: 'string', value: 'ID', required: true, help: 'the deployment (its id, as `deployment create` printed it)' } },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const id = positiveInteger(opts.deployment, '--deployment');
    const u = await uploads(services, opts);
    const created = u.store.queueDeployment(id);
    result({ deployment: id, queued: created }, (r) => (r.queued.length ? `queued ${r.queued.length} upload${r.queued.length === 1 ? '' : 's'}: ${r.queued.map((x) => `#${x}`).join(' ')}` : 'nothing new to queue: every bundle of this deployment has an upload already'));
  },
});

const list = defineCommand({
  name: 'upload list',
  summary: 'the upload queue in the order it will be worked, then running and finished transfers',
  options: {
    state: { type: 'string', value: 'STATE', choices: TRANSFER_STATES, help: 'only transfers in this state' },
    order: { type: 'string', value: 'RULES', help: 'the order rules, e.g. priority,due,size (the default)' },
  },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const u = await uploads(services, opts);
    const queued = u.queue.queued();
    const rest = u.store.list(opts.state ? [opts.state] : undefined).filter((t) => !queued.some((q) => q.id === t.id));
    const items = opts.state && opts.state !== 'queued' ? rest : [...queued, ...(opts.state ? [] : rest)];
    result(items, (xs) => (xs.length ? xs.map(line).join('\n') : 'no uploads'));
  },
});

const run = defineCommand({
  name: 'upload run',
  summary: 'work the upload queue (resumable, rate-capped)',
  details: `  Uploads each queued bundle as a block blob and updates each device's index blob, in the order
  of the business rules (docs/transfers.md). Resumes what a killed runner left. Without --once it
  waits for more work until Ctrl-C (running transfers then go back to the queue).
  The storage account: the secret store (\`lighter upload target\`), or LIGHTER_UPLOAD_SAS_URL or
  AZURE_STORAGE_CONNECTION_STRING in the environment.`,
  options: {
    rate: { type: 'string', value: 'SIZE/s', help: 'cap on the bytes per second of all uploads together, e.g. 256KiB/s' },
    once: { type: 'boolean', help: 'stop when the queue is empty' },
    order: { type: 'string', value: 'RULES', help: 'the order rules, e.g. priority,due,size (the default)' },
    concurrency: { type: 'string', value: 'N', default: '1', help: 'bundles uploaded at the same time (they share the rate cap)' },
    container: { type: 'string', value: 'NAME', help: 'the container, with a connection string (default: $LIGHTER_UPLOAD_CONTAINER or lighter)' },
  },
  json: true,
  inventory: true,
  async run({ opts, result, log, services }) {
    const concurrency = Number(opts.concurrency);
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 16) throw new UsageError(`--concurrency must be a whole number from 1 to 16, not ${JSON.stringify(opts.concurrency)}`);
    let rate = 0;
    try {
      rate = opts.rate ? parseRate(opts.rate) : 0;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort(new Error('stopped'));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const tty = process.stderr.isTTY === true && process.env.CI !== 'true';
    let drawn = 0;
    try {
      const u = await uploads(services, opts);
      u.queue.setRate(rate);
      const summary = await u.queue.run({
        once: opts.once,
        concurrency,
        signal: stop.signal,
        onProgress: (running, total) => {
          if (!tty || Date.now() - drawn < 250) return;
          drawn = Date.now();
          const parts = running.map((p) => `#${p.id} ${((p.done / Math.max(1, p.total)) * 100).toFixed(0)}% of ${formatBytes(p.total)}${p.etaSeconds !== null ? ` ${formatDuration(p.etaSeconds)} left` : ''}`);
          process.stderr.write(`\r\x1b[K${formatBytes(Math.round(total))}/s  ${parts.join('  ')}`);
        },
        onFinished: (t) => {
          if (tty) process.stderr.write('\r\x1b[K');
          log(line(t));
        },
      });
      result(summary, (s) => `${s.succeeded.length} uploaded, ${s.failed.length} failed, ${s.stopped.length} stopped`);
      return summary.failed.length > 0 ? 1 : 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
});

const target = defineCommand({
  name: 'upload target',
  summary: 'set the storage account uploads go to (read from stdin, kept in the secret store)',
  details: `  Reads a container SAS URL (https://ACCOUNT.blob.core.windows.net/CONTAINER?sv=...&sig=...) or an
  account connection string from stdin, never from the command line (it would be in the shell's
  history and in ps), checks its form and keeps it in the secret store. It is never printed.`,
  options: {
    container: { type: 'string', value: 'NAME', help: 'the container, with a connection string (default: lighter)' },
    clear: { type: 'boolean', help: 'forget the stored credential' },
  },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const u = await uploads(services, opts);
    if (opts.clear) {
      const removed = await u.target.clear();
      result({ cleared: removed }, (r) => (r.cleared ? 'storage credential removed' : 'no storage credential was stored'));
      return;
    }
    const secret = await readStdin('the container SAS URL or the connection string');
    if (!secret) throw new UsageError('nothing on stdin: pipe the SAS URL or connection string in, e.g. `lighter upload target < sas.txt`');
    const kept = await u.target.set(secret, opts.container);
    result(kept, (k) => `storage credential kept (${k.kind}${k.container ? `, container ${k.container}` : ''})`);
  },
});

const control = (verb: 'pause' | 'resume' | 'cancel', summary: string) =>
  defineCommand({
    name: `upload ${verb}`,
    summary,
    args: ['TRANSFER'],
    json: true,
    inventory: true,
    async run({ args, opts, result, services }) {
      const id = transferId(args[0]!);
      const u = await uploads(services, opts);
      const t = u.store[verb](id);
      result(t, line);
    },
  });

export const commands = [
  target,
  queue,
  list,
  run,
  control('pause', 'hold a transfer back (a running one stops and keeps its staged blocks)'),
  control('resume', 'let a paused transfer go again, or queue a failed one again'),
  control('cancel', 'cancel a transfer'),
];
