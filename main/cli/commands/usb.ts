// `lighter usb ...` and `lighter keys trust`: bundles to a ship on sticks and receipts back
// (docs/usb.md).
import { parseSize } from '../../../core/units.js';
import { crewImporter, standaloneJobs } from '../../services.js';
import { defineCommand, positiveInteger, UsageError } from '../command.js';
import { runJob } from '../progress.js';

/** ID=VALUE pairs (repeatable flags) as a map; one value per id. */
function pairs(values: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const at = v.indexOf('=');
    if (at < 1 || at === v.length - 1) throw new UsageError(`${flag} ${v}: want DEVICE=VALUE`);
    const id = v.slice(0, at);
    if (out[id]) throw new UsageError(`${flag}: device ${id} is given twice`);
    out[id] = v.slice(at + 1);
  }
  return out;
}

const usbExport = defineCommand({
  name: 'usb export',
  summary: "write a deployment's bundles for its devices onto a USB stick (or a set of sticks)",
  details: `  Writes lighter/index.json (signed with the bundle key), each needed bundle once, and a receipts/
  folder. Every file is read back and hashed; a killed export resumes and skips complete files; a
  stick too small is refused before anything is written. With --media-size (or on FAT32, 4 GiB per
  file) the set is split over several sticks, each describing the whole set: give --to once per
  stick, or write them one at a time with --stick N.`,
  options: {
    deployment: { type: 'string', value: 'ID', required: true, help: 'the deployment (built with `deployment build`)' },
    to: { type: 'string', value: 'DIR', multiple: true, help: "the stick's mount point (repeat for a set of sticks)" },
    devices: { type: 'string', value: 'ID,...', help: 'only these devices of the deployment' },
    'media-size': { type: 'string', value: 'SIZE', help: 'the size of each stick, e.g. 16GB; split the set over sticks of this size' },
    stick: { type: 'string', value: 'N', help: 'write only stick N of the set' },
    key: { type: 'string', value: 'KEY', required: true, help: 'the bundle signing key (signs the index)' },
  },
  json: true,
  inventory: true,
  async run({ opts, result, services }) {
    if (opts.to.length === 0) throw new UsageError('--to is required');
    const deployment = positiveInteger(opts.deployment, '--deployment');
    const stick = opts.stick === undefined ? undefined : positiveInteger(opts.stick, '--stick');
    let mediaSize: number | undefined;
    try {
      mediaSize = opts['media-size'] === undefined ? undefined : parseSize(opts['media-size'], '--media-size');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const s = await services();
    const report = await runJob(s.jobs, { kind: 'usb-export', title: `export deployment ${deployment} to ${opts.to.join(', ')}`, label: 'export', params: { deployment, to: opts.to } }, (ctx) =>
      s.usbExport.export(
        { deployment, to: opts.to, key: opts.key, ...(opts.devices ? { devices: opts.devices.split(',').map((d) => d.trim()).filter(Boolean) } : {}), ...(mediaSize ? { mediaSize } : {}), ...(stick ? { stick } : {}) },
        { signal: ctx.signal, onProgress: (d, t) => ctx.progress(d, t, 'writing') },
      ),
    );
    result(report, (r) =>
      [
        `set ${r.set}: ${r.sticks} stick(s)`,
        ...r.written.map((w) => `  stick ${w.stick} of ${r.sticks} at ${w.dir}: ${w.files} file(s) written, ${w.skipped} already complete, ${w.bytes} bytes, all read back`),
        ...r.devices.map((d) => `  device ${d.deviceId}: ${d.bundles.length} bundle(s)`),
      ].join('\n'),
    );
  },
});

const usbImport = defineCommand({
  name: 'usb import',
  summary: "on board: verify a stick, then apply each device's bundles into its registry (or inbox)",
  details: `  Checks the index signature and every file on the stick before anything else (and lists what
  it finds wrong, each with its own code), lists per device what it will do, then applies each
  device's bundles in order into the registry given with --apply (over the ship LAN), or copies
  them into the inbox given with --inbox. A receipt for every apply, signed with this laptop's own
  key (made on first use, in the data directory), goes into the stick's receipts/ folder.`,
  args: ['DIR'],
  options: {
    pubkey: { type: 'string', value: 'KEY', required: true, help: 'the bundle public key' },
    apply: { type: 'string', value: 'ID=docker://HOST:PORT', multiple: true, help: "apply a device's bundles into its registry (repeatable)" },
    inbox: { type: 'string', value: 'ID=DIR', multiple: true, help: "copy a device's bundles into its inbox folder (repeatable)" },
    'dry-run': { type: 'boolean', help: 'verify and list what would be done; apply nothing' },
    insecure: { type: 'boolean', help: 'allow plain HTTP to a device registry that is not on loopback (the ship LAN)' },
  },
  json: true,
  async run({ args, opts, result }) {
    const importer = await crewImporter();
    const report = await runJob(standaloneJobs(), { kind: 'usb-import', title: `import ${args[0]}`, label: 'verify' }, (ctx) =>
      importer.import({ dir: args[0]!, pubkey: opts.pubkey, apply: pairs(opts.apply, '--apply'), inbox: pairs(opts.inbox, '--inbox'), dryRun: opts['dry-run'], insecure: opts.insecure }, { signal: ctx.signal, onProgress: (d, t, stage) => ctx.progress(d, t, stage ?? 'verifying') }),
    );
    const failed = report.devices.some((d) => d.bundles.some((b) => b.outcome === 'failed'));
    result(report, (r) =>
      [
        `stick ${r.stick.number} of ${r.stick.of} (set ${r.set}), deployment ${r.deployment.name}: index signature and every file verified`,
        ...r.ignored.map((i) => `  ignored ${i}`),
        ...r.devices.map((d) =>
          [
            `  device ${d.deviceId}: ${d.action === 'apply' ? `apply into ${d.via}` : d.action === 'inbox' ? `copy into ${d.via}` : 'nothing (no --apply or --inbox for it)'}`,
            ...d.bundles.map((b) => `    ${b.outcome.padEnd(15)} ${b.base ?? '(full image)'} -> ${b.target} v${b.version}${b.detail ? `: ${b.detail}` : ''}${b.receipt ? ` [receipt ${b.receipt}]` : ''}`),
          ].join('\n'),
        ),
      ].join('\n'),
    );
    return failed ? 1 : 0;
  },
});

const usbReceipts = defineCommand({
  name: 'usb receipts',
  summary: "on shore: take a stick's receipts into the inventory (applied, failed), refusing bad ones",
  details: `  Verifies each receipt's signature against a known key (a device's from its twin, this data
  directory's own, or one enrolled with \`keys trust\`), then records the image applied or failed on
  the device, and one sync-history entry (usb-receipt). Unknown devices or keys, bad signatures,
  replays and receipts for bundles never exported are refused with their reason; they change nothing.`,
  args: ['DIR'],
  json: true,
  inventory: true,
  async run({ args, result, services }) {
    const s = await services();
    const report = await s.receipts.take(args[0]!);
    result(report, (r) =>
      [
        `${r.taken.length} receipt(s) taken, ${r.refused.length} refused`,
        ...r.taken.map((t) => `  taken   ${t.file}: ${t.deviceId} ${t.result}${t.reason ? ` (${t.reason})` : ''}, signed by a ${t.keySource} key`),
        ...r.refused.map((x) => `  refused ${x.file}: ${x.code}: ${x.detail}`),
      ].join('\n'),
    );
    return report.refused.length > 0 ? 1 : 0;
  },
});

const keysTrust = defineCommand({
  name: 'keys trust',
  summary: 'enroll a public key whose receipts shore believes (e.g. a crew laptop’s); audit-logged',
  args: ['FILE'],
  options: {
    device: { type: 'string', value: 'ID', help: 'the key signs for this device only' },
    label: { type: 'string', value: 'TEXT', help: 'what the key is (default: the file name)' },
  },
  json: true,
  inventory: true,
  async run({ args, opts, result, services }) {
    const s = await services();
    const r = await s.receipts.trust(args[0]!, { ...(opts.device ? { deviceId: opts.device } : {}), ...(opts.label ? { label: opts.label } : {}) });
    result(r, (x) => (x.added ? `trusted ${x.keyId}` : `${x.keyId} was already trusted`));
  },
});

export const commands = [usbExport, usbImport, usbReceipts, keysTrust];
