// The storage account side: a container client from the credential an engineer gave (a container
// SAS URL or an account connection string), with the SDK's own retries off so that io/retry.ts is
// the one retry policy, and the decision which Blob errors are worth retrying.
import { AnonymousCredential, BlobServiceClient, ContainerClient, newPipeline, type StoragePipelineOptions } from '@azure/storage-blob';
import { retry, retryAfterMs, type RetryOptions } from '../retry.js';

export type StorageCredential = { sasUrl: string } | { connectionString: string; container: string };

// One attempt per SDK call; retry() decides about the next.
const PIPELINE: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };

/** Parses what an engineer pasted: a container SAS URL, or a connection string (with the container name apart). */
export function parseStorageCredential(secret: string, container?: string): StorageCredential {
  const s = secret.trim();
  if (/^https?:\/\//i.test(s)) {
    const url = new URL(s);
    if (!url.searchParams.get('sig')) throw new Error('the storage URL has no SAS signature (sig=...); give a container SAS URL');
    if (url.pathname.split('/').filter(Boolean).length === 0) throw new Error('the storage URL names no container; give a container SAS URL (https://ACCOUNT.blob.core.windows.net/CONTAINER?sv=...)');
    return { sasUrl: s };
  }
  if (/(^|;)\s*(AccountName|BlobEndpoint|SharedAccessSignature)=/i.test(s)) {
    // Said where each front end takes it: this parser is shared by the app's Uploads view and the CLI.
    if (!container) throw new Error("a connection string needs the container name as well (the Uploads view's Container field, or --container NAME)");
    return { connectionString: s, container };
  }
  // Never echo the value: it is a secret even when it is malformed.
  throw new Error('the storage credential is neither a container SAS URL nor a connection string (AccountName=...;AccountKey=... or BlobEndpoint=...;SharedAccessSignature=...)');
}

export function containerClient(cred: StorageCredential): ContainerClient {
  if ('sasUrl' in cred) return new ContainerClient(cred.sasUrl, newPipeline(new AnonymousCredential(), PIPELINE));
  return BlobServiceClient.fromConnectionString(cred.connectionString, PIPELINE).getContainerClient(cred.container);
}

interface RestErrorLike {
  name?: string;
  statusCode?: number;
  code?: string;
  response?: { headers?: { get(name: string): string | undefined } };
}

/**
 * Retry a Blob call? Dropped links and server-side trouble (no status, 408, 429, 5xx) yes, with the
 * server's Retry-After when it gives one; anything else the service refused (auth, a missing
 * container, a bad block) no: trying again would only fail again.
 */
export function blobRetryDecision(err: unknown): boolean | number {
  const e = err as RestErrorLike;
  // Bytes that are not what they should be are not fixed by asking again.
  if (e?.name === 'AbortError' || e?.name === 'BlobIntegrityError' || e?.name === 'DigestMismatchError' || e?.name === 'DeviceIndexError') return false;
  const status = e?.statusCode;
  // No status: the request never got an answer (reset, refused, timed out); a bug is not retried.
  if (status === undefined) return !(err instanceof TypeError || err instanceof RangeError);
  if (status === 408 || status === 429 || status >= 500) return retryAfterMs(e.response?.headers?.get('retry-after')) ?? true;
  return false;
}

export type BlobRetry = Pick<RetryOptions, 'attempts' | 'baseMs' | 'capMs'>;

/** One Blob call under the shared retry policy. */
export function blobCall<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  return retry(() => fn(), { attempts: 8, baseMs: 500, capMs: 60_000, decide: blobRetryDecision, ...opts });
}

/** A failure as one line for the inventory and the CLI, with no URL in it (a SAS URL is a secret). */
export function describeBlobError(err: unknown): string {
  const e = err as RestErrorLike & { message?: string };
  const msg = String(e?.message ?? err).split('\n')[0]!.replace(/https?:\/\/\S+/g, '<storage URL>').replace(/sig=[^&\s]+/g, 'sig=<hidden>');
  return e?.statusCode ? `${msg} (HTTP ${e.statusCode}${e.code ? `, ${e.code}` : ''})` : msg;
}
