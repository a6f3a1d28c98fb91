// What one device's Lighter module twin (core/edge/report.ts) means for the inventory, applied in
// the sync's transaction: results move images in transit to applied or failed, the store's image
// list marks images present, the receipt key is learnt. Where the inventory and the twin disagree
// in a way a move cannot settle (the twin reports a failure of an image the inventory has as
// present; a USB bundle the twin says failed), the disagreement is returned as a conflict.
import { parseImageName, repositoryOf } from '../../core/deployment/image-name.js';
import { reportedPropertiesSchema, type Report } from '../../core/edge/report.js';
import type { Inventory } from '../inventory/store.js';
import type { DeviceImageState } from '../inventory/states.js';

export interface ImageEvent {
  kind: 'image-applied' | 'image-failed';
  deviceId: string;
  image: string;
  message: string;
}

export interface ReportOutcome {
  changes: Array<Record<string, unknown>>;
  conflicts: Array<Record<string, unknown>>;
  events: ImageEvent[];
}

interface Held {
  name: string;
  state: DeviceImageState;
  channel: string | null;
  digest: string;
}

/**
 * A twin stores no nulls: IoT Hub reads a null in a reported patch as "delete this key". So the
 * report's nullable fields (lastVersion; a result's bundleId and version) arrive absent when null.
 */
function restoreNulls(reported: unknown): unknown {
  if (typeof reported !== 'object' || reported === null) return reported;
  const lighter = (reported as Record<string, unknown>).lighter;
  if (typeof lighter !== 'object' || lighter === null || Array.isArray(lighter)) return reported;
  const l = { ...(lighter as Record<string, unknown>) };
  if (!('lastVersion' in l)) l.lastVersion = null;
  if (Array.isArray(l.results)) {
    l.results = l.results.map((x: unknown) => (typeof x === 'object' && x !== null ? { bundleId: null, version: null, ...(x as object) } : x));
  }
  return { ...(reported as object), lighter: l };
}

/** The report under properties.reported.lighter, or why it cannot be read. */
export function readReport(reported: unknown): { report: Report } | { error: string } {
  const r = reportedPropertiesSchema.safeParse(restoreNulls(reported));
  if (r.success) return { report: r.data.lighter };
  const issue = r.error.issues[0]!;
  return { error: `${issue.path.join('.')}: ${issue.message}` };
}

export function applyReport(inv: Inventory, deviceId: string, report: Report): ReportOutcome {
  const out: ReportOutcome = { changes: [], conflicts: [], events: [] };
  const held = (): Held[] => inv.imagesOnDevice(deviceId).map((r) => ({ name: `${r.repository}:${r.tag}`, state: r.state, channel: r.channel, digest: r.config_digest }));

  // The inventory's name for an image the device reports: the row it already has on this device
  // (by config digest, else repository and tag), else any row with that digest, else the ref.
  const nameFor = (ref: string, id: string): { name: string; current: Held | undefined } => {
    const mine = held();
    const byDigest = mine.find((h) => h.digest === id);
    if (byDigest) return { name: byDigest.name, current: byDigest };
    const n = parseImageName(ref);
    const byTag = mine.find((h) => h.name === `${repositoryOf(n)}:${n.tag ?? ''}` && h.digest === '');
    if (byTag) return { name: byTag.name, current: byTag };
    const known = inv.db.prepare('SELECT repository, tag FROM images WHERE config_digest = ? ORDER BY id LIMIT 1').get(id) as { repository: string; tag: string } | undefined;
    return { name: known ? `${known.repository}:${known.tag}` : ref, current: undefined };
  };

  const move = (name: string, id: string, from: DeviceImageState | null, to: DeviceImageState, reason: string) => {
    inv.setDeviceImage(deviceId, { name, configDigest: id }, to, { channel: 'reported', reason });
    out.changes.push({ device: deviceId, image: name, from, to });
  };

  // Results, oldest first, so a later result wins.
  for (const r of [...report.results].reverse()) {
    if (!r.target) continue;
    const { name, current } = nameFor(r.target.ref, r.target.id);
    const from = current?.state ?? null;
    if (r.result === 'applied') {
      if (from === 'in_transit') {
        move(name, r.target.id, from, 'applied', `bundle ${r.bundleId ?? r.file} applied (twin)`);
        out.events.push({ kind: 'image-applied', deviceId, image: name, message: `${name} applied on ${deviceId} (bundle version ${r.version ?? '?'}, ${Math.round(r.durationMs / 1000)} s)` });
      } else if (from === 'failed' || from === null) {
        move(name, r.target.id, from, 'present', `bundle ${r.bundleId ?? r.file} applied (twin)`);
        if (from === 'failed') out.events.push({ kind: 'image-applied', deviceId, image: name, message: `${name} applied on ${deviceId} after an earlier failure` });
      }
    } else if (from === 'in_transit') {
      move(name, r.target.id, from, 'failed', `${r.reason ?? 'failed'}: ${r.message ?? ''}`.trim());
      out.events.push({ kind: 'image-failed', deviceId, image: name, message: `${name} FAILED on ${deviceId}: ${r.reason ?? 'failed'}${r.message ? ` (${r.message})` : ''}` });
      if (current?.channel === 'usb') out.conflicts.push({ device: deviceId, image: name, inventory: 'in transit by USB', twin: `failed (${r.reason ?? 'failed'})`, settled: 'marked failed' });
    } else if (from === 'present' || from === 'applied') {
      out.conflicts.push({ device: deviceId, image: name, inventory: from, twin: `failed (${r.reason ?? 'failed'})`, settled: 'inventory kept' });
    }
  }

  // The store's image list: everything in it is on the device.
  const listed = new Set<string>();
  for (const img of report.images) {
    listed.add(img.id);
    const { name, current } = nameFor(img.ref, img.id);
    const from = current?.state ?? null;
    if (from === null || from === 'in_transit' || from === 'failed') move(name, img.id, from, 'present', 'in the device store (twin)');
  }
  for (const h of held()) {
    if ((h.state === 'present' || h.state === 'applied') && h.digest && h.channel !== 'registry' && !listed.has(h.digest)) {
      out.conflicts.push({ device: deviceId, image: h.name, inventory: h.state, twin: 'not in the device store', settled: 'inventory kept' });
    }
  }

  // The receipt key: learnt once; a different one later is a new key (a re-flashed device?).
  const known = inv.db.prepare('SELECT key_id FROM device_keys WHERE device_id = ? ORDER BY learnt_at DESC LIMIT 1').get(deviceId) as { key_id: string } | undefined;
  if (known?.key_id !== report.receiptKeyId) {
    inv.db.prepare('INSERT OR IGNORE INTO device_keys (device_id, key_id, public_key, source, learnt_at) VALUES (?, ?, ?, ?, ?)').run(deviceId, report.receiptKeyId, report.receiptKey, 'iothub', new Date().toISOString());
    out.changes.push({ device: deviceId, receiptKey: report.receiptKeyId });
    if (known) out.conflicts.push({ device: deviceId, receiptKey: { inventory: known.key_id, twin: report.receiptKeyId }, settled: 'new key learnt, old kept' });
  }
  return out;
}
