// `lighter deployment ...`: create a deployment from a manifest, build its bundles once, show it
// (docs/deployments.md).
import { basename } from 'node:path';
import { defineCommand, positiveInteger, UsageError } from '../command.js';
import { MANIFEST_FOR_DEVICES, manifestForDevices } from '../manifest-options.js';
import { runJob } from '../progress.js';

const deploymentId = (text: string) => positiveInteger(text, 'deployment id');

const bytes = (n: number) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

const create = defineCommand({
  name: 'deployment create',
  summary: 'record a deployment: a manifest, its devices, who ordered it; prints its id',
  options: {
    ...MANIFEST_FOR_DEVICES,
    'ordered-by': { type: 'string', value: 'NAME', required: true, help: 'who ordered it' },
    email: { type: 'string', value: 'ADDR', required: true, help: "their email address" },
    priority: { type: 'string', value: 'N', default: '0', help: 'higher goes first in the transfer queue' },
    due: { type: 'string', value: 'DATE', help: 'when the images are wanted on board (ISO date or date-time)' },
    name: { type: 'string', value: 'NAME', help: 'a unique name (default: the manifest file name and the time)' },
  },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    const order = manifestForDevices(opts);
    const priority = Number(opts.priority);
    if (!Number.isSafeInteger(priority)) throw new UsageError(`--priority must be a whole number, not ${opts.priority}`);
    const name = opts.name ?? `${basename(opts.manifest).replace(/\.json$/i, '')}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
    const s = await services();
    const id = s.deployments.create({
      ...order,
      name,
      orderedBy: { name: opts['ordered-by'], email: opts.email },
      priority,
      dueAt: opts.due ?? null,
    });
    result({ id, name }, (r) => `deployment ${r.id} (${r.name}) created`);
  },
});

const build = defineCommand({
  name: 'deployment build',
  summary: 'build every bundle a deployment needs, once each, verified, into the bundle store',
  details: `  Plans the deployment against what the inventory says each device has, builds each distinct
  (base, target) bundle once (reusing one built before), verifies it by rebuilding, keeps it in
  the bundle store and records which device needs which bundle. Images come from the sources
  recorded with \`db record-image\`, else from the registry the manifest names.`,
  args: ['ID'],
  options: { key: { type: 'string', value: 'KEY', required: true, help: 'the private key bundles are signed with' } },
  json: true,
  inventory: true,
  async run({ args, opts, result, services }) {
    const id = deploymentId(args[0]!);
    const s = await services();
    const report = await runJob(s.jobs, { kind: 'deployment-build', title: `build deployment ${id}`, label: 'build', params: { id }, unit: 'items' }, (ctx) =>
      s.deployments.build(id, opts.key, { signal: ctx.signal, onProgress: (d, t) => ctx.progress(d, t, 'bundles') }),
    );
    const { plan: _plan, ...summary } = report;
    result(summary, (r) =>
      r.upToDate
        ? `deployment ${id}: every image is already on every device; nothing to build`
        : [
            `deployment ${id}: ${r.bundles.length} bundle(s)`,
            ...r.bundles.map((b) => `  ${b.built ? 'built ' : 'reused'} ${b.bundleId}  ${b.base ?? '(full image)'} -> ${b.target}  ${bytes(b.size)}  for ${b.devices.join(', ')}`),
          ].join('\n'),
    );
  },
});

const show = defineCommand({
  name: 'deployment show',
  summary: 'a deployment: who ordered it, its state, which device needs which bundle',
  args: ['ID'],
  json: true,
  inventory: true,
  async run({ args, result, services }) {
    const s = await services();
    result(s.deployments.show(deploymentId(args[0]!)), (d) =>
      [
        `deployment ${d.id} ${d.name}: ${d.state}`,
        `  ordered by ${d.orderedBy.name} <${d.orderedBy.email}>, priority ${d.priority}${d.dueAt ? `, due ${d.dueAt}` : ''}`,
        ...d.devices.map((dev) => {
          const missing = d.gate.devices.find((g) => g.deviceId === dev)?.missing ?? [];
          const lines = d.bundles.filter((b) => b.deviceId === dev).map((b) => `    ${b.position + 1}. ${b.bundleId} ${b.base?.ref ?? '(full image)'} -> ${b.target.ref} ${bytes(b.size)} ${b.imageState ?? 'not sent'}`);
          return [`  device ${dev}: ${missing.length ? `missing ${missing.join(', ')}` : 'has every image'}`, ...lines].join('\n');
        }),
      ].join('\n'),
    );
  },
});

export const commands = [create, build, show];
