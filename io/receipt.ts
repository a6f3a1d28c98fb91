// Receipts on disk (format: core/edge/receipt.ts): the device's ed25519 receipt key, made on first
// start and kept in its state dir (mode 0600), signing, writing into a receipts folder atomically,
// reading a receipt back and verifying it against a public key (from the twin report, a key file,
// or the device's own). The same code serves the edge module, a crew laptop and shore.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { parseReceipt, receiptBodySchema, receiptFileName, receiptSigningBytes, MAX_RECEIPT_BYTES, type Receipt, type ReceiptBody } from '../core/edge/receipt.js';
import { fsyncDir, tempPathFor, writeFileAtomic } from './atomic-file.js';
import { keyIdOf } from './keys.js';

export const RECEIPT_KEY_FILE = 'receipt-key.pem';

export interface ReceiptKey {
  /** sha256 of the raw public key: the receipts' `signer` and the twin's `receiptKeyId` */
  keyId: string;
  /** base64 of the public key's SPKI DER: the twin's `receiptKey` */
  publicKeyBase64: string;
  publicKeyPem: string;
  sign(body: Omit<ReceiptBody, 'signer'>): Receipt;
}

function keyFrom(privateKey: KeyObject): ReceiptKey {
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  return {
    keyId,
    publicKeyBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    sign(unsigned) {
      // Parsed before signing: a receipt this key signs is always one every reader accepts.
      const body = receiptBodySchema.parse({ ...unsigned, signer: keyId });
      return { ...body, signature: sign(null, receiptSigningBytes(body), privateKey).toString('base64') };
    },
  };
}

/**
 * The receipt key in `stateDir`, created on first use. Creation writes a temp file (mode 0600
 * before it has a name anyone looks at) and links it into place, so two processes starting at
 * once end with one key and both use it.
 */
export async function loadOrCreateReceiptKey(stateDir: string): Promise<ReceiptKey> {
  const path = join(stateDir, RECEIPT_KEY_FILE);
  await fs.mkdir(stateDir, { recursive: true });
  const existing = await fs.readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new Error(`cannot read the receipt key ${path}: ${err.code ?? err.message}`);
  });
  if (existing !== null) return keyFrom(parsePrivateKey(existing, path));
  const { privateKey } = generateKeyPairSync('ed25519');
  const tmp = tempPathFor(path);
  try {
    await writeFileAtomic(tmp, privateKey.export({ format: 'pem', type: 'pkcs8' }), (t) => fs.chmod(t, 0o600));
    await fs.link(tmp, path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    await fsyncDir(stateDir);
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return keyFrom(parsePrivateKey(await fs.readFile(path, 'utf8'), path));
}

function parsePrivateKey(pem: string, path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    // A damaged key must be looked at: a new one would orphan every receipt signed so far.
    throw new Error(`the receipt key ${path} is damaged (${err instanceof Error ? err.message : String(err)}); restore it from a backup, or remove it to make a new key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the receipt key ${path} is ${key.asymmetricKeyType}, not ed25519`);
  return key;
}

/** A public key given as SPKI PEM or as base64 SPKI DER (the twin's `receiptKey`). */
export function parsePublicKey(key: string): KeyObject {
  const k = key.includes('-----BEGIN') ? createPublicKey(key) : createPublicKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'spki' });
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`receipt key is ${k.asymmetricKeyType}, not ed25519`);
  return k;
}

/** Writes the receipt into `dir` under receiptFileName (atomically); returns its path. */
export async function writeReceipt(dir: string, receipt: Receipt): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const path = join(dir, receiptFileName(receipt));
  await writeFileAtomic(path, `${JSON.stringify(receipt, null, 2)}\n`);
  return path;
}

export async function readReceipt(path: string): Promise<Receipt> {
  const stat = await fs.stat(path);
  if (!stat.isFile()) throw new Error(`${path} is not a file`);
  if (stat.size > MAX_RECEIPT_BYTES) throw new Error(`${path}: ${stat.size} bytes, over the ${MAX_RECEIPT_BYTES}-byte receipt limit`);
  try {
    return parseReceipt(await fs.readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export type ReceiptCheck = { ok: true } | { ok: false; why: 'wrong-key' | 'bad-signature'; detail: string };

/** Checks the receipt was signed by `publicKey` (PEM, base64 SPKI DER, or a KeyObject) and not altered. */
export function verifyReceipt(receipt: Receipt, publicKey: string | KeyObject): ReceiptCheck {
  const key = typeof publicKey === 'string' ? parsePublicKey(publicKey) : publicKey;
  const keyId = keyIdOf(key);
  if (receipt.signer !== keyId) return { ok: false, why: 'wrong-key', detail: `signed by ${receipt.signer}, not by ${keyId}` };
  const { signature, ...body } = receipt;
  const good = verify(null, receiptSigningBytes(body), key, Buffer.from(signature, 'base64'));
  return good ? { ok: true } : { ok: false, why: 'bad-signature', detail: 'the signature does not match the receipt (altered or corrupted)' };
}
