// The per-device index blob (docs/transfers.md), both sides of it in one place: the shore's upload
// queue writes it (encodeDeviceIndex), the device's fetcher follows it and brings each bundle it
// names, in order, into the edge module's inbox. The index and the blobs are hostile
// until checked: the index is bounded and validated, each blob must be the size and sha256 the index
// says (else nothing of it reaches the inbox), and the bundle's own signature is the edge module's
// check as for any other bundle. What was fetched is remembered, so a bundle the module applied
// and removed is not fetched again.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import { writeFileAtomic } from '../atomic-file.js';
import { VerifyingStream } from '../digest.js';
import { blobCall, type BlobRetry } from './storage.js';

export interface DeviceIndexEntry {
  blob: string;
  bundleId: string;
  sha256: string;
  size: number;
  version: number;
  deployment: string | null;
}

export class DeviceIndexError extends Error {
  override name = 'DeviceIndexError';
}

const MAX_INDEX_BYTES = 1 << 20;
const BLOB_NAME = /^bundles\/([0-9a-f]{64})\.lighter$/;

/** The index blob of a device (the name the shore's upload queue writes). */
export function deviceIndexBlobName(deviceId: string): string {
  return `devices/${encodeURIComponent(deviceId)}/index.json`;
}

/** The index blob's bytes: every bundle uploaded for the device, in the order it applies them. */
export function encodeDeviceIndex(deviceId: string, bundles: DeviceIndexEntry[], updated = new Date()): string {
  return JSON.stringify({ format: 1, device: deviceId, updated: updated.toISOString(), bundles }, null, 2);
}

/** Parses and checks a device index: format 1, for this device, each entry a content-addressed bundle blob. */
export function parseDeviceIndex(text: string, deviceId: string, maxBundleBytes: number): DeviceIndexEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DeviceIndexError(`the device index is not JSON: ${(err as Error).message}`);
  }
  const d = doc as { format?: unknown; device?: unknown; bundles?: unknown };
  if (d?.format !== 1) throw new DeviceIndexError(`the device index has format ${JSON.stringify(d?.format)}, not 1`);
  if (d.device !== deviceId) throw new DeviceIndexError(`the device index is for ${JSON.stringify(d.device)}, not this device (${deviceId})`);
  if (!Array.isArray(d.bundles)) throw new DeviceIndexError('the device index lists no bundles array');
  return d.bundles.map((b: Record<string, unknown>, i: number) => {
    const where = `device index entry ${i}`;
    const m = typeof b?.blob === 'string' ? BLOB_NAME.exec(b.blob) : null;
    if (!m) throw new DeviceIndexError(`${where}: blob ${JSON.stringify(b?.blob)} is not bundles/<sha256>.lighter`);
    if (b.sha256 !== `sha256:${m[1]}`) throw new DeviceIndexError(`${where}: sha256 ${JSON.stringify(b.sha256)} is not the blob's name`);
    if (!Number.isSafeInteger(b.size) || (b.size as number) <= 0 || (b.size as number) > maxBundleBytes) throw new DeviceIndexError(`${where}: size ${JSON.stringify(b.size)} is not 1..${maxBundleBytes} bytes`);
    if (typeof b.bundleId !== 'string' || !Number.isSafeInteger(b.version)) throw new DeviceIndexError(`${where}: bundleId and version are required`);
    return { blob: b.blob as string, bundleId: b.bundleId, sha256: b.sha256, size: b.size as number, version: b.version as number, deployment: typeof b.deployment === 'string' ? b.deployment : null };
  });
}

export interface FetchOptions {
  container: ContainerClient;
  deviceId: string;
  /** the edge module's inbox */
  inbox: string;
  /** remembers what was fetched (JSON list of sha256) */
  stateFile: string;
  /** largest bundle taken (default 16 GiB) */
  maxBundleBytes?: number;
  signal?: AbortSignal;
  retry?: BlobRetry;
  log?: (line: string) => void;
}

async function fetchedBefore(stateFile: string): Promise<Set<string>> {
  try {
    return new Set(JSON.parse(await fs.readFile(stateFile, 'utf8')) as string[]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw new Error(`cannot read what was fetched before (${stateFile}): ${(err as Error).message}`);
  }
}

/** One pass: fetches every bundle the index names that was not fetched before, in the index's order. */
export async function fetchDeviceBundles(o: FetchOptions): Promise<{ fetched: string[]; known: number }> {
  const call = <T>(fn: () => Promise<T>) => blobCall(fn, { ...o.retry, signal: o.signal });
  const indexBlob = o.container.getBlockBlobClient(deviceIndexBlobName(o.deviceId));
  let text: string;
  try {
    const props = await call(() => indexBlob.getProperties({ abortSignal: o.signal }));
    if ((props.contentLength ?? 0) > MAX_INDEX_BYTES) throw new DeviceIndexError(`the device index is ${props.contentLength} bytes, more than ${MAX_INDEX_BYTES}`);
    text = (await call(() => indexBlob.downloadToBuffer(0, undefined, { abortSignal: o.signal }))).toString('utf8');
  } catch (err) {
    // Nothing uploaded for this device yet.
    if ((err as { statusCode?: number }).statusCode === 404) return { fetched: [], known: 0 };
    throw err;
  }
  const entries = parseDeviceIndex(text, o.deviceId, o.maxBundleBytes ?? 16 * 1024 ** 3);
  const done = await fetchedBefore(o.stateFile);
  const fetched: string[] = [];
  for (const e of entries) {
    if (done.has(e.sha256)) continue;
    const target = join(o.inbox, `${e.sha256.slice('sha256:'.length)}.bundle`);
    await call(async () => {
      const res = await o.container.getBlockBlobClient(e.blob).download(0, undefined, { abortSignal: o.signal });
      const body = res.readableStreamBody;
      if (!body) throw new Error(`blob ${e.blob} came without a body`);
      const verified = new VerifyingStream(`bundle ${e.blob}`, { digest: e.sha256, size: e.size });
      body.on('error', (err: Error) => verified.destroy(err));
      // Written under a hidden temp name the inbox ignores, renamed only once size and sha256 are the index's.
      await writeFileAtomic(target, body.pipe(verified));
    });
    done.add(e.sha256);
    await writeFileAtomic(o.stateFile, JSON.stringify([...done]));
    fetched.push(e.sha256);
    o.log?.(`fetched ${e.blob} (${e.size} bytes${e.deployment ? `, deployment ${e.deployment}` : ''}) into the inbox`);
  }
  return { fetched, known: entries.length };
}
