// sha256 digests in OCI form ("sha256:<64 hex>"), and a pass-through stream that verifies one.
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export class DigestMismatchError extends Error {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`digest mismatch for ${what}: expected ${expected}, got ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

export function assertDigest(d: string, what = 'digest'): string {
  if (!DIGEST.test(d)) throw new Error(`invalid ${what}: ${JSON.stringify(d)} (want sha256:<64 hex>)`);
  return d;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Passes bytes through while hashing them; at the end fails the stream with DigestMismatchError
 * (or a size error) unless the content matches. `onDigest` receives the digest when none is expected.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  constructor(
    private readonly what: string,
    private readonly expected?: { digest?: string; size?: number },
    private readonly onDigest?: (digest: string, size: number) => void,
  ) {
    super();
  }
  /**
   * True when this stream fails unless its bytes hash to `digest` (and, when both say, have `size`):
   * a consumer handed such a stream need not hash the same bytes again.
   */
  checks(digest: string, size?: number): boolean {
    return this.expected?.digest === digest && (size === undefined || this.expected.size === undefined || this.expected.size === size);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.expected?.size !== undefined && this.seen > this.expected.size) {
      cb(new Error(`${this.what} is larger than its declared ${this.expected.size} bytes`));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (this.expected?.size !== undefined && this.seen !== this.expected.size) {
      cb(new Error(`${this.what} is truncated: ${this.seen} of ${this.expected.size} bytes`));
      return;
    }
    if (this.expected?.digest && actual !== this.expected.digest) {
      cb(new DigestMismatchError(this.what, this.expected.digest, actual));
      return;
    }
    this.onDigest?.(actual, this.seen);
    cb();
  }
}
