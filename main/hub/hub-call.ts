// Every call Lighter makes to IoT Hub's service API goes through here: retried with the one retry
// policy (io/retry.ts) when the hub throttles (429), is briefly unavailable (500/502/503/504) or the
// connection drops, honouring the hub's Retry-After; refused keys and unreachable hubs become errors
// that name the hub and the policy, never the key.
import { retry, retryAfterMs } from '../../io/retry.js';
import type { HubAddress } from './registry-client.js';

export interface HubCallOptions {
  signal?: AbortSignal;
  /** attempts in all (default 6) */
  attempts?: number;
  /** longest jittered backoff (default 10 s; a Retry-After is honoured even when longer) */
  capMs?: number;
  /** called before each retry with the wait, for progress lines */
  onRetry?: (why: string, waitMs: number) => void;
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  response?: { statusCode?: number; headers?: Record<string, string | string[] | undefined> };
}

const TRANSIENT_STATUS = new Set([429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** Connection strings, SAS tokens and keys, cut out of any text that might reach a log or a screen. */
export function redact(text: string): string {
  return text
    .replace(/SharedAccessKey=[^;\s"']*/gi, 'SharedAccessKey=<redacted>')
    .replace(/SharedAccessSignature\s+[^\s"']+/gi, 'SharedAccessSignature <redacted>')
    .replace(/([?&]sig=)[^&\s"']+/gi, '$1<redacted>');
}

function statusOf(err: unknown): number | undefined {
  return (err as SdkError)?.response?.statusCode;
}

function isNetwork(err: unknown): boolean {
  const e = err as SdkError;
  return (!!e?.code && NETWORK_CODES.has(e.code)) || /socket hang up|ECONNRESET/i.test(e?.message ?? '');
}

/** The retry decision for hub calls: a number is the hub's own Retry-After. */
export function hubRetryDecision(err: unknown): boolean | number {
  const status = statusOf(err);
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return retryAfterMs((err as SdkError).response?.headers?.['retry-after']) ?? true;
  return status === undefined && isNetwork(err);
}

export class HubError extends Error {
  override name = 'HubError';
  constructor(
    message: string,
    /** 'unauthorized' | 'unreachable' | 'throttled' | 'failed' */
    readonly kind: 'unauthorized' | 'unreachable' | 'throttled' | 'failed',
  ) {
    super(redact(message));
  }
}

/** The user's error for a failed hub call: names the hub, its host and policy; never a secret. */
export function describeHubError(hub: string, address: HubAddress, what: string, err: unknown): HubError {
  const e = err as SdkError;
  const status = statusOf(err);
  const where = `hub ${hub} (${address.hostName}, policy ${address.policy})`;
  const detail = (e?.message ?? String(err)).split('\n')[0];
  if (status === 401 || e?.name === 'UnauthorizedError') {
    return new HubError(`${where} refused the key (401 Unauthorized) while ${what}: check the SharedAccessKey of policy ${address.policy}, and that the policy has registry read/write and service connect rights`, 'unauthorized');
  }
  if (status === 429) return new HubError(`${where} kept throttling (429) while ${what}: ${detail}`, 'throttled');
  if (status !== undefined) return new HubError(`${where} answered ${status} while ${what}: ${detail}`, 'failed');
  if (isNetwork(err)) return new HubError(`${where} is unreachable while ${what}: ${detail}`, 'unreachable');
  return new HubError(`${where}: ${what} failed: ${detail}`, 'failed');
}

/** Runs one SDK call with the hub retry policy; failures come back as HubError. */
export async function hubCall<T>(hub: string, address: HubAddress, what: string, fn: () => Promise<T>, opts: HubCallOptions = {}): Promise<T> {
  try {
    return await retry(() => fn(), {
      attempts: opts.attempts ?? 6,
      baseMs: 250,
      capMs: opts.capMs ?? 10_000,
      deadlineMs: 5 * 60_000,
      ...(opts.signal ? { signal: opts.signal } : {}),
      decide: (err) => {
        const d = hubRetryDecision(err);
        if (d !== false) opts.onRetry?.(describeHubError(hub, address, what, err).message, typeof d === 'number' ? d : -1);
        return d;
      },
    });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw describeHubError(hub, address, what, err);
  }
}
