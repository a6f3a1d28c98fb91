// ed25519 keys for signing bundles (node:crypto), as PEM files: the private key stays on shore
// (mode 0600), the public key goes to every device.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ManifestSigner, ManifestVerifier } from '../core/bundle/format.js';
import { writeFileAtomic } from './atomic-file.js';
import { sha256 } from './digest.js';

export const PRIVATE_KEY_FILE = 'lighter-bundle.key';
export const PUBLIC_KEY_FILE = 'lighter-bundle.pub';

/** sha256 of the raw 32-byte public key: the id a manifest names its signer by. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return sha256(der.subarray(der.length - 32));
}

/** Writes a new key pair into `dir`; refuses to overwrite an existing key. Returns the paths. */
export async function generateKeys(dir: string): Promise<{ privateKey: string; publicKey: string; keyId: string }> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const paths = { privateKey: join(dir, PRIVATE_KEY_FILE), publicKey: join(dir, PUBLIC_KEY_FILE) };
  await fs.mkdir(dir, { recursive: true });
  for (const p of Object.values(paths)) {
    if (await fs.stat(p).then(() => true, () => false)) throw new Error(`${p} exists; refusing to overwrite a key`);
  }
  // The mode is set on the temp file, before the rename makes it visible.
  await writeFileAtomic(paths.privateKey, privateKey.export({ format: 'pem', type: 'pkcs8' }), (tmp) => fs.chmod(tmp, 0o600));
  await writeFileAtomic(paths.publicKey, publicKey.export({ format: 'pem', type: 'spki' }));
  return { ...paths, keyId: keyIdOf(publicKey) };
}

async function readPem(path: string, what: string): Promise<string> {
  const stat = await fs.stat(path).catch(() => null);
  if (!stat?.isFile()) throw new Error(`${what} ${path} does not exist`);
  if (stat.size > 16 << 10) throw new Error(`${what} ${path} is ${stat.size} bytes, too large for a PEM key`);
  return fs.readFile(path, 'utf8');
}

function requireEd25519(key: KeyObject, path: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${path} is a ${key.asymmetricKeyType} key, not ed25519`);
  return key;
}

/** The signing key, with the verifier of its public half (to check what was just signed). */
export async function loadSigner(path: string): Promise<ManifestSigner & { verifier: ManifestVerifier }> {
  let key: KeyObject;
  try {
    key = requireEd25519(createPrivateKey(await readPem(path, 'private key')), path);
  } catch (err) {
    throw new Error(`cannot use ${path} as a signing key: ${err instanceof Error ? err.message : String(err)}`);
  }
  const publicKey = createPublicKey(key);
  return { keyId: keyIdOf(publicKey), sign: (message) => sign(null, message, key), verifier: verifierFor(publicKey) };
}

function verifierFor(key: KeyObject): ManifestVerifier {
  return { keyId: keyIdOf(key), verify: (message, signature) => verify(null, message, key, signature) };
}

export async function loadVerifier(path: string): Promise<ManifestVerifier> {
  let key: KeyObject;
  try {
    key = requireEd25519(createPublicKey(await readPem(path, 'public key')), path);
  } catch (err) {
    throw new Error(`cannot use ${path} as a public key: ${err instanceof Error ? err.message : String(err)}`);
  }
  return verifierFor(key);
}
