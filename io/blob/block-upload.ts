// A bundle as a block blob that survives a link that drops for hours and a process that is killed:
// fixed-size blocks whose ids follow from their index, each recorded once staged; a restart asks
// the service which blocks it holds uncommitted and sends only the others, then commits the list
// and checks what was committed.
//
// How the committed blob is known to equal the bundle, without reading it back over the link:
// the local file is hashed first (its sha256 must be the bundle's, else nothing is sent); every
// block goes out with its MD5 (transactional Content-MD5), which the service checks before it
// stages the block; block ids carry the block size and index and the blob name is the bundle's
// sha256, so a staged block under that name and id can only hold those bytes of that file; after
// the commit the service's committed list must be exactly our ids and sizes and the blob's length
// and sha256 metadata the bundle's. A read-back would cost the bundle's size again on the link.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import type { OperationControl } from '../operation.js';
import { type RateLimiter, throttledBody } from './rate-limit.js';
import { blobCall, type BlobRetry } from './storage.js';

/** Where staged blocks are recorded (the inventory implements it). */
export interface BlockLedger {
  /** the block size and indexes recorded as staged for `blob`, if any */
  staged(blob: string): { blockSize: number; blocks: number[] } | undefined;
  recordStaged(blob: string, blockSize: number, index: number, length: number): void;
  /** the blob is committed: its block records are no longer needed */
  forget(blob: string): void;
}

// 128 KiB: a link that drops loses the block in flight, half a block on average (about half a second
// at 1 Mbit/s); a blob of up to 6 GiB fits in 50,000 of them, larger ones get larger blocks.
export const DEFAULT_BLOCK_SIZE = 128 * 1024;
// The service's limits: 50,000 blocks per blob; ids of one blob all the same length.
const MAX_BLOCKS = 50_000;
const BLOCK_ALIGN = 64 * 1024;

export class BlobIntegrityError extends Error {
  override name = 'BlobIntegrityError';
}

/** The content-addressed name of a bundle's blob: its sha256. */
export function bundleBlobName(sha256: string): string {
  const hex = /^sha256:([0-9a-f]{64})$/.exec(sha256)?.[1];
  if (!hex) throw new Error(`invalid bundle sha256 ${JSON.stringify(sha256)} (want sha256:<64 hex>)`);
  return `bundles/${hex}.lighter`;
}

/** Block size for a blob of `size` bytes: the wanted size, or larger when the blob would need too many blocks. */
export function blockSizeFor(size: number, wanted = DEFAULT_BLOCK_SIZE): number {
  const least = Math.ceil(size / MAX_BLOCKS / BLOCK_ALIGN) * BLOCK_ALIGN;
  return Math.max(wanted, least);
}

/** Block i's id: fixed length, and naming the block size so a different layout never reuses a block. */
export function blockId(blockSize: number, index: number): string {
  return Buffer.from(`lighter-${blockSize.toString(16).padStart(8, '0')}-${String(index).padStart(6, '0')}`).toString('base64');
}

/** `onProgress` counts the bytes of the blob the service holds so far. */
export interface BlobUpload extends OperationControl {
  container: ContainerClient;
  /** blob name (bundleBlobName) */
  name: string;
  file: string;
  /** the bundle's sha256, "sha256:<hex>", and size: the file must match both */
  sha256: string;
  size: number;
  /** blob metadata (names must be C# identifiers, values ASCII) */
  metadata: Record<string, string>;
  ledger: BlockLedger;
  blockSize?: number;
  limiter?: RateLimiter;
  /** body bytes handed to the link, as they go (for the rate) */
  onSent?: (bytes: number) => void;
  /** how hard each storage call is retried (default: blobCall's) */
  retry?: BlobRetry;
}

export interface BlobUploadResult {
  /** the blob was already committed with this content; nothing was sent */
  alreadyThere: boolean;
  blocksSent: number;
  blocksReused: number;
  blockSize: number;
}

interface LocalDigest {
  sha256: string;
  md5: Buffer;
}
// Hashing a bundle is a local read, but a link that drops every few MB retries many times: hash each
// file once per process (keyed by identity and mtime, so a rewritten file is hashed again).
const digests = new Map<string, LocalDigest>();

async function localDigest(path: string, size: number): Promise<LocalDigest> {
  const st = await fs.stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new BlobIntegrityError(`the bundle file ${path} is missing from the bundle store; build the deployment again`);
    throw err;
  });
  if (st.size !== size) throw new BlobIntegrityError(`${path} is ${st.size} bytes, but the bundle is ${size} bytes; rebuild it`);
  const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  const known = digests.get(key);
  if (known) return known;
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const fh = await fs.open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) throw new BlobIntegrityError(`${path} ended at ${pos} of ${size} bytes`);
      sha.update(buf.subarray(0, bytesRead));
      md5.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  const d = { sha256: `sha256:${sha.digest('hex')}`, md5: md5.digest() };
  digests.set(key, d);
  return d;
}

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number }).statusCode === 404;
}

type Call = <T>(fn: (signal?: AbortSignal) => Promise<T>) => Promise<T>;

async function committedMatches(blob: BlockBlobClient, size: number, sha256: string, call: Call): Promise<boolean> {
  try {
    const props = await call((signal) => blob.getProperties({ abortSignal: signal }));
    return props.contentLength === size && props.metadata?.sha256 === sha256;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export async function uploadBlob(u: BlobUpload): Promise<BlobUploadResult> {
  const blob = u.container.getBlockBlobClient(u.name);
  const call: Call = (fn) => blobCall(() => fn(u.signal), { ...u.retry, signal: u.signal });
  const local = await localDigest(u.file, u.size);
  if (local.sha256 !== u.sha256) throw new BlobIntegrityError(`${u.file} has sha256 ${local.sha256}, not the bundle's ${u.sha256}; it is damaged, rebuild it`);

  const recorded = u.ledger.staged(u.name);
  // Keep the layout of blocks already staged, even if the default block size has changed since.
  const blockSize = recorded?.blockSize ?? blockSizeFor(u.size, u.blockSize);
  const count = Math.ceil(u.size / blockSize);
  const lengthOf = (i: number) => Math.min(blockSize, u.size - i * blockSize);

  if (await committedMatches(blob, u.size, u.sha256, call)) {
    u.ledger.forget(u.name);
    u.onProgress?.(u.size, u.size);
    return { alreadyThere: true, blocksSent: 0, blocksReused: 0, blockSize };
  }

  // What the service holds: blocks staged by an earlier run that were never committed.
  const held = new Map<string, number>();
  try {
    const list = await call((signal) => blob.getBlockList('uncommitted', { abortSignal: signal }));
    for (const b of list.uncommittedBlocks ?? []) held.set(b.name, b.size);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const recordedSet = new Set(recorded?.blocks ?? []);

  let done = 0;
  const todo: number[] = [];
  for (let i = 0; i < count; i++) {
    if (held.get(blockId(blockSize, i)) === lengthOf(i)) {
      done += lengthOf(i);
      // Staged, but killed before it was recorded: record it now.
      if (!recordedSet.has(i)) u.ledger.recordStaged(u.name, blockSize, i, lengthOf(i));
    } else todo.push(i);
  }
  u.onProgress?.(done, u.size);

  const fh = await fs.open(u.file, 'r');
  try {
    for (const i of todo) {
      u.signal?.throwIfAborted();
      const data = Buffer.allocUnsafe(lengthOf(i));
      const { bytesRead } = await fh.read(data, 0, data.length, i * blockSize);
      if (bytesRead !== data.length) throw new BlobIntegrityError(`${u.file}: short read at block ${i}`);
      const md5 = createHash('md5').update(data).digest();
      const onSent = (n: number) => u.onSent?.(n);
      const body = u.limiter ? () => throttledBody(data, u.limiter!, u.signal, onSent) : data;
      await call((signal) => blob.stageBlock(blockId(blockSize, i), body, data.length, { transactionalContentMD5: md5, abortSignal: signal }));
      if (!u.limiter) onSent(data.length);
      u.ledger.recordStaged(u.name, blockSize, i, data.length);
      done += data.length;
      u.onProgress?.(done, u.size);
    }
  } finally {
    await fh.close();
  }

  const ids = Array.from({ length: count }, (_, i) => blockId(blockSize, i));
  u.signal?.throwIfAborted();
  // Committing the same list twice is harmless, so a commit whose answer was lost is simply retried.
  await call((signal) =>
    blob.commitBlockList(ids, {
      metadata: { ...u.metadata, sha256: u.sha256 },
      blobHTTPHeaders: { blobContentType: 'application/octet-stream', blobContentMD5: local.md5 },
      abortSignal: signal,
    }),
  );

  const committed = await call((signal) => blob.getBlockList('committed', { abortSignal: signal }));
  const got = committed.committedBlocks ?? [];
  const same = got.length === count && got.every((b, i) => b.name === ids[i] && b.size === lengthOf(i));
  if (!same || !(await committedMatches(blob, u.size, u.sha256, call))) {
    throw new BlobIntegrityError(`blob ${u.name} as committed does not match the bundle (${got.length} blocks, want ${count}); it will be uploaded again`);
  }
  u.ledger.forget(u.name);
  return { alreadyThere: false, blocksSent: todo.length, blocksReused: count - todo.length, blockSize };
}
