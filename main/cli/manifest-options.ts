// What every command that takes a deployment manifest for some devices shares: --manifest, and
// exactly one of --devices and --group.
import { readFileSync } from 'node:fs';
import { UsageError } from './command.js';

export const MANIFEST_FOR_DEVICES = {
  manifest: { type: 'string', value: 'FILE', required: true, help: 'the IoT Edge deployment manifest (JSON)' },
  devices: { type: 'string', value: 'ID,...', help: 'the devices it is for' },
  group: { type: 'string', value: 'G', help: 'or every device of this group' },
} as const;

/** The manifest's text and the devices it is for, as the services take them. */
export function manifestForDevices(opts: { manifest: string; devices?: string | undefined; group?: string | undefined }): { manifestJson: string } & ({ devices: string[] } | { group: string }) {
  if (!opts.devices === !opts.group) throw new UsageError('give exactly one of --devices and --group');
  let manifestJson: string;
  try {
    manifestJson = readFileSync(opts.manifest, 'utf8');
  } catch (err) {
    throw new Error(`cannot read manifest ${opts.manifest}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { manifestJson, ...(opts.group ? { group: opts.group } : { devices: opts.devices!.split(',').map((d) => d.trim()).filter(Boolean) }) };
}
