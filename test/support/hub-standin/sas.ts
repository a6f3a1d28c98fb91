// SAS tokens as IoT Hub checks them: `SharedAccessSignature sr=<resource>&sig=<HMAC-SHA256>&se=<expiry>[&skn=<policy>]`,
// the signature over `<sr as sent>\n<se>` with the base64 key; expired, foreign-resource or
// wrongly signed tokens are refused.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SasToken {
  sr: string;
  sig: string;
  se: number;
  skn?: string;
  /** sr exactly as sent (the signature covers it) */
  rawSr: string;
}

export function parseSas(value: string | undefined): SasToken | null {
  if (!value) return null;
  const m = /^SharedAccessSignature\s+(.+)$/.exec(value.trim());
  if (!m?.[1]) return null;
  const fields = new Map<string, string>();
  for (const part of m[1].split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const rawSr = fields.get('sr');
  const sig = fields.get('sig');
  const se = Number(fields.get('se'));
  if (!rawSr || !sig || !Number.isFinite(se)) return null;
  const skn = fields.get('skn');
  try {
    return { sr: decodeURIComponent(rawSr), rawSr, sig: decodeURIComponent(sig), se, ...(skn ? { skn: decodeURIComponent(skn) } : {}) };
  } catch {
    return null;
  }
}

export function signSas(rawSr: string, se: number, keyBase64: string): string {
  return createHmac('sha256', Buffer.from(keyBase64, 'base64')).update(`${rawSr}\n${se}`).digest('base64');
}

/** Why the token is refused, or null when it is good for `resource` with one of `keys`. */
export function checkSas(token: SasToken | null, resource: string, keys: string[], now = Date.now()): string | null {
  if (!token) return 'malformed or missing SharedAccessSignature';
  if (token.se * 1000 < now) return 'token expired';
  const sr = token.sr.toLowerCase().replace(/\/+$/, '');
  const want = resource.toLowerCase();
  // A token for a resource covers everything under it, as on IoT Hub.
  if (want !== sr && !want.startsWith(`${sr}/`)) return `token is for ${token.sr}, not ${resource}`;
  const got = Buffer.from(token.sig, 'base64');
  for (const key of keys) {
    const expected = Buffer.from(signSas(token.rawSr, token.se, key), 'base64');
    if (expected.length === got.length && timingSafeEqual(expected, got)) return null;
  }
  return 'signature does not match the key';
}
