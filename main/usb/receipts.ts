// `usb receipts` on shore: every receipt on a stick checked against a known key (a device's, learnt
// from its twin; this data directory's own; or one enrolled with `keys trust`), then taken into the
// inventory (the image applied, or failed with its reason). Unknown devices and keys, bad
// signatures, replays and receipts for bundles never exported are refused with their reason, and
// change nothing. The run is one sync-history entry (usb-receipt).
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { RECEIPT_SUFFIX, receiptSigningBytes, type Receipt } from '../../core/edge/receipt.js';
import { RECEIPTS_DIR } from '../../core/usb/stick.js';
import { sha256 } from '../../io/digest.js';
import { keyIdOf } from '../../io/keys.js';
import { loadOrCreateReceiptKey, parsePublicKey, readReceipt, RECEIPT_KEY_FILE, verifyReceipt } from '../../io/receipt.js';
import { UnknownEntityError, type Inventory } from '../inventory/store.js';
import { isReadError } from './files.js';

export type RefusalCode = 'malformed' | 'read-error' | 'unknown-key' | 'wrong-key' | 'bad-signature' | 'unknown-device' | 'never-exported' | 'replay' | 'illegal-move';

export interface ReceiptsReport {
  taken: Array<{ file: string; deviceId: string; bundleId: string | null; result: 'applied' | 'failed'; reason: string | null; signer: string; keySource: 'twin' | 'enrolled' | 'own' }>;
  refused: Array<{ file: string; code: RefusalCode; detail: string }>;
}

export class ReceiptIntake {
  constructor(
    private readonly inventory: Inventory,
    /** this data directory: its own receipt key (when it has one) is known */
    private readonly dataDir: string,
  ) {}

  async take(stickDir: string): Promise<ReceiptsReport> {
    const dir = join(stickDir, RECEIPTS_DIR);
    const names = (await fs.readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new Error(`${dir} does not exist: no receipts on this stick`);
      throw err;
    })).filter((n) => n.endsWith(RECEIPT_SUFFIX) && !n.startsWith('._')).sort();
    const own = await this.ownKey();
    const report: ReceiptsReport = { taken: [], refused: [] };
    for (const name of names) {
      const refuse = (code: RefusalCode, detail: string) => report.refused.push({ file: name, code, detail });
      let receipt: Receipt;
      try {
        receipt = await readReceipt(join(dir, name));
      } catch (err) {
        if (isReadError(err)) refuse('read-error', `the medium failed to read (${err.code}); not tampering`);
        else refuse('malformed', err instanceof Error ? err.message : String(err));
        continue;
      }
      const key = own?.keyId === receipt.signer ? { pem: own.publicKeyPem, source: 'own' as const, deviceId: null } : this.known(receipt.signer);
      if (!key) {
        refuse('unknown-key', `signed by ${receipt.signer}, a key shore does not know (not from a twin, not this data directory's; enroll it with \`lighter keys trust FILE\`)`);
        continue;
      }
      if (key.deviceId && key.deviceId !== receipt.deviceId) {
        refuse('wrong-key', `signed with device ${key.deviceId}'s key but says it is from ${receipt.deviceId}`);
        continue;
      }
      const check = verifyReceipt(receipt, key.pem);
      if (!check.ok) {
        refuse(check.why, check.detail);
        continue;
      }
      const { signature: _s, ...body } = receipt;
      const id = sha256(receiptSigningBytes(body));
      if (this.inventory.receiptTaken(id)) {
        refuse('replay', 'this receipt was taken before; it changes nothing again');
        continue;
      }
      try {
        this.inventory.device(receipt.deviceId);
      } catch (err) {
        if (!(err instanceof UnknownEntityError)) throw err;
        refuse('unknown-device', `device ${receipt.deviceId} is not in the inventory`);
        continue;
      }
      const bundleId = receipt.bundleId ?? this.inventory.bundleIdBySha(receipt.file.sha256);
      if (!bundleId || !this.inventory.exportedOverUsb(bundleId, receipt.deviceId)) {
        refuse('never-exported', `bundle ${bundleId ?? receipt.file.sha256} was never exported to ${receipt.deviceId} over USB`);
        continue;
      }
      try {
        this.inventory.takeReceipt({
          id,
          deviceId: receipt.deviceId,
          bundleId,
          version: receipt.version,
          result: receipt.result,
          reason: receipt.reason ?? null,
          message: receipt.message ?? null,
          signer: receipt.signer,
          finishedAt: receipt.finishedAt,
          target: this.inventory.bundleTarget(bundleId),
        });
      } catch (err) {
        refuse('illegal-move', err instanceof Error ? err.message : String(err));
        continue;
      }
      report.taken.push({ file: name, deviceId: receipt.deviceId, bundleId, result: receipt.result, reason: receipt.reason ?? null, signer: receipt.signer, keySource: key.source });
    }
    const applied = report.taken.filter((t) => t.result === 'applied').length;
    this.inventory.recordSync(
      'usb-receipt',
      `receipts from ${stickDir}: ${report.taken.length} taken (${applied} applied, ${report.taken.length - applied} failed), ${report.refused.length} refused`,
      report.taken.map((t) => ({ device: t.deviceId, bundle: t.bundleId, result: t.result, reason: t.reason })),
      report.refused,
    );
    return report;
  }

  /** `keys trust FILE`: enrolls a public key (PEM) whose receipts are then believed; audit-logged. */
  async trust(file: string, opts: { deviceId?: string; label?: string } = {}): Promise<{ keyId: string; added: boolean }> {
    const st = await fs.stat(file).catch(() => null);
    if (!st?.isFile()) throw new Error(`key file ${file} does not exist`);
    if (st.size > 16 << 10) throw new Error(`key file ${file} is ${st.size} bytes, too large for a public key`);
    const pem = await fs.readFile(file, 'utf8');
    let key;
    try {
      key = parsePublicKey(pem);
    } catch (err) {
      throw new Error(`${file} is not an ed25519 public key: ${err instanceof Error ? err.message : String(err)}`);
    }
    const keyId = keyIdOf(key);
    const { added } = this.inventory.trustKey({ keyId, publicKeyPem: key.export({ format: 'pem', type: 'spki' }).toString(), deviceId: opts.deviceId ?? null, label: opts.label ?? file });
    return { keyId, added };
  }

  private known(keyId: string): { pem: string; source: 'twin' | 'enrolled'; deviceId: string | null } | null {
    const k = this.inventory.knownReceiptKey(keyId);
    return k ? { pem: k.publicKey, source: k.source, deviceId: k.deviceId } : null;
  }

  /** This data directory's receipt key, if it ever made one (it is not made here). */
  private async ownKey() {
    const exists = await fs.stat(join(this.dataDir, RECEIPT_KEY_FILE)).then(
      () => true,
      () => false,
    );
    return exists ? loadOrCreateReceiptKey(this.dataDir) : null;
  }
}
