import { describe, expect, it } from 'vitest';
import { blobRetryDecision, describeBlobError, parseStorageCredential } from './storage.js';

const restError = (statusCode: number | undefined, headers: Record<string, string> = {}) =>
  Object.assign(new Error('boom'), { name: 'RestError', statusCode, response: { headers: { get: (n: string) => headers[n] } } });

describe('blob errors', () => {
  it('retries dropped links and server trouble, with the server’s Retry-After, and nothing the service refused', () => {
    expect(blobRetryDecision(restError(undefined))).toBe(true);
    expect(blobRetryDecision(restError(503))).toBe(true);
    expect(blobRetryDecision(restError(429, { 'retry-after': '7' }))).toBe(7000);
    expect(blobRetryDecision(restError(403))).toBe(false);
    expect(blobRetryDecision(restError(404))).toBe(false);
    expect(blobRetryDecision(Object.assign(new Error('x'), { name: 'AbortError' }))).toBe(false);
    expect(blobRetryDecision(new TypeError('a bug'))).toBe(false);
  });

  it('never repeats a storage URL or its signature', () => {
    const err = Object.assign(new Error('Server failed to authenticate https://acct.blob.core.windows.net/c/b?sv=2024&sig=SECRETSIG%3D request'), { statusCode: 403, code: 'AuthenticationFailed' });
    const text = describeBlobError(err);
    expect(text).not.toMatch(/SECRETSIG|acct\.blob/);
    expect(text).toBe('Server failed to authenticate <storage URL> request (HTTP 403, AuthenticationFailed)');
    expect(describeBlobError(new Error('x sig=abc&se=1'))).toBe('x sig=<hidden>&se=1');
  });

  it('asks for a connection string’s container where each front end takes it (the Uploads view’s field, the CLI’s flag)', () => {
    const cs = 'AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net';
    expect(() => parseStorageCredential(cs, '')).toThrow("a connection string needs the container name as well (the Uploads view's Container field, or --container NAME)");
    expect(parseStorageCredential(cs, 'lighter')).toEqual({ connectionString: cs, container: 'lighter' });
  });
});
