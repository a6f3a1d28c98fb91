// `lighter hub ...`: IoT Hub connections (the connection string from stdin or
// LIGHTER_HUB_CONNECTION_STRING, never from the command line, never printed), sync and push; and
// `lighter notify ...`: the notification list and the SMTP relay that mails the orderers.
import type { HubSummary, NotificationItem } from '../../../contract/index.js';
import { HUB_ENV } from '../../hub/connections.js';
import type { PushResult } from '../../hub/push.js';
import type { SyncResult } from '../../hub/sync.js';
import { defineCommand, positiveInteger, UsageError } from '../command.js';
import { readStdin } from '../stdin.js';

const showHub = (h: HubSummary) =>
  `${h.name}  ${h.hostName}  policy ${h.policy}  secret ${h.secret}  ${h.lastSyncAt ? `last sync ${h.lastSyncAt} ${h.lastSyncOk ? 'ok' : 'FAILED'}` : 'never synced'}`;

const add = defineCommand({
  name: 'hub add',
  summary: 'add an IoT Hub by name (its service connection string from stdin or $LIGHTER_HUB_CONNECTION_STRING)',
  details: `  Reads the hub's service connection string (HostName=...;SharedAccessKeyName=...;SharedAccessKey=...,
  a policy with registry read/write and service connect) from standard input, and keeps it in the
  secret store; never from the command line (ps and the shell history would show it). With
  ${HUB_ENV} set and nothing on stdin, the string stays in the environment: only the hub's name,
  host and policy are recorded, and each sync reads the variable again. It is never printed.`,
  args: ['NAME'],
  json: true,
  inventory: true,
  async run({ args, result, services }) {
    const env = process.env[HUB_ENV];
    const piped = !process.stdin.isTTY || !env ? await readStdin('the service connection string') : '';
    const cs = piped || env;
    if (!cs) throw new UsageError(`no connection string: pipe it in (lighter hub add ${args[0]} < hub.txt) or set ${HUB_ENV}`);
    const h = (await services()).hub;
    result(await h.connections.add(args[0]!, cs, !piped), (x) => `hub ${x.name} added: ${x.hostName}, policy ${x.policy} (connection string ${x.secret === 'stored' ? 'in the secret store' : `read from ${HUB_ENV}`})`);
  },
});

const list = defineCommand({
  name: 'hub list',
  summary: 'list the hubs (name, host, policy, last sync; never the key)',
  json: true,
  inventory: true,
  async run({ result, services }) {
    const h = (await services()).hub;
    result(await h.connections.list(), (l) => (l.length ? l.map(showHub).join('\n') : 'no hubs; add one with `lighter hub add NAME < connection-string.txt`'));
  },
});

const remove = defineCommand({
  name: 'hub remove',
  summary: 'forget a hub and its stored connection string',
  args: ['NAME'],
  json: true,
  inventory: true,
  async run({ args, result, services }) {
    const h = (await services()).hub;
    await h.connections.remove(args[0]!);
    result({ removed: args[0]! }, (r) => `hub ${r.removed} removed`);
  },
});

const showSync = (r: SyncResult) =>
  `${r.summary}\n  devices: ${r.devices.added} added, ${r.devices.updated} updated, ${r.devices.unchanged} unchanged; twins read ${r.twinsRead}, unchanged since last sync ${r.twinsSkipped}` +
  `${r.deploymentsReady.length ? `\n  ready to push: ${r.deploymentsReady.join(', ')}` : ''}${r.notifications ? `\n  ${r.notifications} notification(s)` : ''}`;

const sync = defineCommand({
  name: 'hub sync',
  summary: 'learn from IoT Hub what every device holds: images, results, receipt keys; open gates',
  details: `  Reads every device twin and each Edge device's Lighter module twin and $edgeAgent with the
  azure-iothub SDK (paged; 429 and 503 retried honouring Retry-After), moves images in transit to
  applied or failed, records images present, learns receipt keys, marks deployments ready whose
  gate opened, and writes one sync-history entry. Then queued mail is sent if a relay answers.
  Without NAME, every hub. An unreachable hub is a failed sync entry and nothing else changes.`,
  args: ['[NAME]'],
  json: true,
  inventory: true,
  async run({ args, result, log, services }) {
    const h = (await services()).hub;
    const names = args[0] ? [args[0]] : h.connections.names();
    if (names.length === 0) throw new Error('no hubs; add one with `lighter hub add NAME < connection-string.txt`');
    const out: SyncResult[] = [];
    const failed: string[] = [];
    // One hub down does not keep the others from syncing; the command fails at the end.
    for (const name of names) {
      await h.sync.sync(name, { call: { onRetry: (why, ms) => log(`retrying${ms >= 0 ? ` in ${(ms / 1000).toFixed(1)} s` : ''}: ${why}`) } }).then(
        (r) => out.push(r),
        (err: unknown) => failed.push(err instanceof Error ? err.message : String(err)),
      );
    }
    const mail = await h.mailer.flush();
    if (mail.sent) log(`${mail.sent} mail(s) sent`);
    if (mail.waiting) log(`${mail.waiting} mail(s) waiting: ${mail.reason ?? 'relay did not take them'}`);
    if (out.length) result(out, (rs) => rs.map(showSync).join('\n'));
    if (failed.length) throw new Error(failed.join('; '));
  },
});

const showPush = (r: PushResult) =>
  [
    ...r.pushed.map((d) => `pushed to ${d}`),
    ...r.unchanged.map((d) => `${d}: already has this manifest, nothing sent`),
    ...r.refused.map((d) => `refused ${d.deviceId}: missing ${d.missing.join(', ')}`),
    `deployment ${r.deployment}: ${r.state}`,
  ].join('\n');

const push = defineCommand({
  name: 'hub push',
  summary: "send a deployment's manifest to each device whose images are all on board",
  details: `  For each device of the deployment (or those of --devices) whose gate is open, applies the
  manifest rewritten for that device (its local registry, imagePullPolicy never) with
  applyConfigurationContentOnDevice. Devices still missing images are refused and listed with what
  they miss (exit status 1). Who pushed is recorded; pushing the same content again sends nothing.`,
  options: {
    deployment: { type: 'string', value: 'ID', required: true, help: 'the deployment (its number)' },
    devices: { type: 'string', value: 'ID,...', help: 'only these devices of the deployment' },
  },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const id = positiveInteger(opts.deployment, '--deployment');
    const devices = opts.devices?.split(',').map((d) => d.trim()).filter(Boolean);
    const h = (await services()).hub;
    const r = await h.push.push(id, devices?.length ? { devices } : {});
    await h.mailer.flush();
    result(r, showPush);
    return r.refused.length ? 1 : 0;
  },
});

const showNotification = (n: NotificationItem) =>
  `#${n.id} ${n.at} ${n.read ? ' ' : '*'} ${n.message}${n.mail ? `  [mail to ${n.mail.to}: ${n.mail.state}${n.mail.error && n.mail.state === 'queued' ? `, last error: ${n.mail.error}` : ''}]` : ''}`;

const notifications = defineCommand({
  name: 'notify list',
  summary: 'the notifications syncs and pushes produced (newest first), and their mail',
  options: { unread: { type: 'boolean', help: 'only those not marked read' }, limit: { type: 'string', value: 'N', default: '50', help: 'at most N (default 50)' } },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const h = (await services()).hub;
    result(h.notifications.list({ limit: Number(opts.limit) || 50, unreadOnly: opts.unread }), (l) => (l.length ? l.map(showNotification).join('\n') : 'no notifications'));
  },
});

const relay = defineCommand({
  name: 'notify relay',
  summary: 'set the SMTP relay that mails the orderers (password, if any, from stdin)',
  details: `  Mail to the people who ordered deployments goes through this relay. With --user, the password is
  read from standard input (or $LIGHTER_SMTP_PASSWORD) and kept in the secret store. Without
  options, prints the relay in use.`,
  options: {
    host: { type: 'string', value: 'HOST', help: 'the relay host' },
    port: { type: 'string', value: 'PORT', help: 'its port (default 587)' },
    secure: { type: 'boolean', help: 'TLS from the first byte (port 465); otherwise STARTTLS when offered' },
    from: { type: 'string', value: 'ADDRESS', help: 'the sender address' },
    'smtp-user': { type: 'string', value: 'NAME', help: 'log in as NAME' },
  },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const h = (await services()).hub;
    if (!opts.host) {
      result(h.mailer.relay(), (r) => (r ? `${r.host}:${r.port}${r.secure ? ' (TLS)' : ''} from ${r.from}${r.user ? ` as ${r.user}` : ''}` : 'no SMTP relay set'));
      return;
    }
    if (!opts.from) throw new UsageError('--from is required with --host');
    const password = opts['smtp-user'] ? process.env.LIGHTER_SMTP_PASSWORD ?? (await readStdin('the SMTP password')) : undefined;
    const r = await h.mailer.setRelay({ host: opts.host, port: opts.port ? Number(opts.port) : 587, secure: opts.secure, from: opts.from, ...(opts['smtp-user'] ? { user: opts['smtp-user'] } : {}) }, password);
    result(r, (x) => `SMTP relay set: ${x.host}:${x.port} from ${x.from}`);
  },
});

const send = defineCommand({
  name: 'notify send',
  summary: 'send the mail waiting in the queue now',
  json: true,
  inventory: true,
  async run({ result, services }) {
    const h = (await services()).hub;
    result(await h.mailer.flush(), (r) => `${r.sent} sent, ${r.waiting} waiting${r.reason ? `: ${r.reason}` : ''}`);
  },
});

export const commands = [add, list, remove, sync, push, notifications, relay, send];
