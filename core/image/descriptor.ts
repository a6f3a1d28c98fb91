// A content descriptor, as in the OCI image spec: what a manifest says about each blob it references.
export interface Descriptor {
  mediaType: string;
  /** "sha256:<64 hex>" */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(s: unknown): s is string {
  return typeof s === 'string' && DIGEST.test(s);
}

/** The 64 hex characters of a sha256 digest (for blob file names). */
export function digestHex(digest: string): string {
  if (!isDigest(digest)) throw new Error(`invalid digest ${JSON.stringify(digest)} (want sha256:<64 hex>)`);
  return digest.slice('sha256:'.length);
}

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

/** Parses "os/arch[/variant]", e.g. "linux/arm64/v8". */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, extra] = s.split('/');
  if (!os || !architecture || extra !== undefined) throw new Error(`invalid platform ${JSON.stringify(s)} (want os/arch[/variant])`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}
