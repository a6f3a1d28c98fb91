// The bundle container (docs/bundle-format.md): a fixed preamble, the manifest, its ed25519
// signature, then the parts back to back in manifest order. The file carries no paths and no
// offsets: a part's place follows from the lengths before it, so parts can neither overlap nor
// point outside the file, and the file's total length is fixed by the signed manifest.
import { BundleError } from './errors.js';
import { LIMITS, parseManifest, type Manifest } from './manifest.js';

/** PNG-style: a high byte, a name, and CR LF / EOF / LF to catch text-mode and truncated copies. */
export const MAGIC = Uint8Array.of(0x89, 0x4c, 0x54, 0x42, 0x0d, 0x0a, 0x1a, 0x0a); // \x89LTB\r\n\x1a\n
export const FORMAT_VERSION = 1;
export const PREAMBLE_BYTES = 16;
export const SIGNATURE_BYTES = 64;

/** Signs and verifies manifests; the ed25519 implementation lives in io/keys.ts. */
export interface ManifestSigner {
  /** sha256 of the raw public key, recorded in the manifest */
  readonly keyId: string;
  sign(message: Uint8Array): Uint8Array;
}
export interface ManifestVerifier {
  readonly keyId: string;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface Preamble {
  manifestLength: number;
  signatureLength: number;
}

/** Reads the 16-byte preamble. Lengths are checked against the bounds before anything is read. */
export function decodePreamble(bytes: Uint8Array): Preamble {
  if (bytes.length < PREAMBLE_BYTES) throw new BundleError('truncated', `${bytes.length} bytes, shorter than the ${PREAMBLE_BYTES}-byte preamble`);
  if (!MAGIC.every((b, i) => bytes[i] === b)) throw new BundleError('not-a-bundle', 'the file does not start with the Lighter bundle magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, PREAMBLE_BYTES);
  const format = view.getUint16(8);
  if (format !== FORMAT_VERSION) throw new BundleError('unsupported-format', `format version ${format}; this Lighter reads ${FORMAT_VERSION}`);
  const manifestLength = view.getUint32(10);
  const signatureLength = view.getUint16(14);
  if (manifestLength === 0) throw new BundleError('malformed-manifest', 'empty manifest');
  if (manifestLength > LIMITS.manifestBytes) throw new BundleError('too-large', `declared manifest of ${manifestLength} bytes (limit ${LIMITS.manifestBytes})`);
  if (signatureLength === 0) throw new BundleError('unsigned', 'the bundle carries no signature');
  if (signatureLength !== SIGNATURE_BYTES) throw new BundleError('bad-signature', `a ${signatureLength}-byte signature; ed25519 signatures are ${SIGNATURE_BYTES}`);
  return { manifestLength, signatureLength };
}

/** Bytes from the start of the file to the first part. */
export function headerLength(p: Preamble): number {
  return PREAMBLE_BYTES + p.manifestLength + p.signatureLength;
}

/** Total file length the manifest declares; the reader requires the file to be exactly this long. */
export function declaredLength(p: Preamble, m: Manifest): number {
  return headerLength(p) + m.parts.reduce((s, part) => s + part.length, 0);
}

/** Offset of each part in the file, by digest. */
export function partOffsets(p: Preamble, m: Manifest): Map<string, { offset: number; length: number }> {
  const out = new Map<string, { offset: number; length: number }>();
  let offset = headerLength(p);
  for (const part of m.parts) {
    out.set(part.digest, { offset, length: part.length });
    offset += part.length;
  }
  return out;
}

function preambleFor(manifestLength: number): Uint8Array {
  const out = new Uint8Array(PREAMBLE_BYTES);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint16(8, FORMAT_VERSION);
  view.setUint32(10, manifestLength);
  view.setUint16(14, SIGNATURE_BYTES);
  return out;
}

/** The header (preamble, manifest, signature); the parts follow it in manifest order. */
export function encodeHeader(manifestBytes: Uint8Array, signer: ManifestSigner): Uint8Array {
  if (manifestBytes.length > LIMITS.manifestBytes) throw new Error(`manifest of ${manifestBytes.length} bytes is over the ${LIMITS.manifestBytes}-byte limit`);
  const signed = new Uint8Array(PREAMBLE_BYTES + manifestBytes.length);
  signed.set(preambleFor(manifestBytes.length), 0);
  signed.set(manifestBytes, PREAMBLE_BYTES);
  const signature = signer.sign(signed);
  if (signature.length !== SIGNATURE_BYTES) throw new Error(`signer returned ${signature.length} bytes, not an ed25519 signature`);
  const out = new Uint8Array(signed.length + SIGNATURE_BYTES);
  out.set(signed, 0);
  out.set(signature, signed.length);
  return out;
}

/**
 * Checks the signature over preamble + manifest, then parses the manifest. `header` is the first
 * headerLength(preamble) bytes of the file. The signature is checked before the manifest is parsed,
 * so nothing unsigned is ever interpreted.
 */
export function openHeader(header: Uint8Array, verifier: ManifestVerifier): { preamble: Preamble; manifest: Manifest } {
  const preamble = decodePreamble(header);
  const end = PREAMBLE_BYTES + preamble.manifestLength;
  if (header.length < end + preamble.signatureLength) {
    throw new BundleError('truncated', `the file ends at byte ${header.length}, inside the ${end + preamble.signatureLength}-byte header`);
  }
  const signed = header.subarray(0, end);
  const signature = header.subarray(end, end + preamble.signatureLength);
  if (!verifier.verify(signed, signature)) {
    // Name the key if the manifest says who signed it; that claim is unverified, so only for the message.
    const claimed = /"signer":"(sha256:[0-9a-f]{64})"/.exec(new TextDecoder().decode(header.subarray(PREAMBLE_BYTES, end)))?.[1];
    if (claimed && claimed !== verifier.keyId) throw new BundleError('wrong-key', `signed by key ${claimed}, not by the trusted key ${verifier.keyId}`);
    throw new BundleError('bad-signature', 'the signature does not match the manifest (altered or corrupted)');
  }
  const manifest = parseManifest(header.subarray(PREAMBLE_BYTES, end));
  if (manifest.signer !== verifier.keyId) throw new BundleError('wrong-key', `manifest names signer ${manifest.signer}, the trusted key is ${verifier.keyId}`);
  return { preamble, manifest };
}
