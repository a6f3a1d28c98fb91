// Reads the JSON that `az iot hub device-identity list` and `az iot hub query -q "select * from
// devices"` print: an array of device twins (deviceId, connectionState, lastActivityTime, status,
// capabilities.iotEdge, tags, properties...). Older CLI versions print device identities without tags;
// those import too, with no group. Unknown fields are ignored; a malformed entry fails the whole file.
import { z } from 'zod';
import type { DeviceInput } from './store.js';

// IoT Hub's device id rule: up to 128 ASCII letters, digits and - . + % _ # * ? ! ( ) , : = @ $ '
const DEVICE_ID = /^[A-Za-z0-9\-.+%_#*?!(),:=@$']{1,128}$/;

const Twin = z
  .object({
    deviceId: z.string().regex(DEVICE_ID, 'not a valid IoT Hub device id'),
    connectionState: z.string().nullish(),
    lastActivityTime: z.string().nullish(),
    capabilities: z.object({ iotEdge: z.boolean().optional() }).passthrough().nullish(),
    tags: z.record(z.unknown()).nullish(),
  })
  .passthrough();

export interface ImportOptions {
  /** dotted path inside tags of the group, default "group" */
  groupTag?: string;
  hub?: string | null;
}

function tagAt(tags: Record<string, unknown>, path: string): string | null {
  let v: unknown = tags;
  for (const part of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

// IoT Hub reports "0001-01-01T00:00:00Z" (or +00:00) for a device that was never seen.
function lastSeen(t: string | null | undefined, where: string): string | null {
  if (!t || t.startsWith('0001-01-01')) return null;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new Error(`${where}.lastActivityTime ${JSON.stringify(t)} is not a date`);
  return new Date(ms).toISOString();
}

export function parseDeviceList(text: string, options: ImportOptions = {}): DeviceInput[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`device list is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new Error('device list must be a JSON array (as `az iot hub device-identity list` prints it)');
  const seen = new Set<string>();
  return doc.map((item, i) => {
    const r = Twin.safeParse(item);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      throw new Error(`device list entry ${i}: ${issue.path.join('.') || '(entry)'}: ${issue.message}`);
    }
    const t = r.data;
    if (seen.has(t.deviceId)) throw new Error(`device list entry ${i}: device ${t.deviceId} appears twice`);
    seen.add(t.deviceId);
    const tags = t.tags ?? {};
    return {
      id: t.deviceId,
      displayName: tagAt(tags, 'displayName') ?? tagAt(tags, 'name'),
      vessel: tagAt(tags, 'vessel'),
      site: tagAt(tags, 'site'),
      group: tagAt(tags, options.groupTag ?? 'group'),
      tags,
      hub: options.hub ?? null,
      localRegistry: tagAt(tags, 'localRegistry'),
      isEdge: t.capabilities?.iotEdge === true,
      connectionState: t.connectionState ?? null,
      lastSeen: lastSeen(t.lastActivityTime, `device list entry ${i}`),
    };
  });
}
