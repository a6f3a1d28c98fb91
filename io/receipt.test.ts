import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { receiptFileName, type ReceiptBody } from '../core/edge/receipt.js';
import { loadOrCreateReceiptKey, readReceipt, RECEIPT_KEY_FILE, verifyReceipt, writeReceipt } from './receipt.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-receipt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const D = (c: string) => `sha256:${c.repeat(64)}`;
const body: Omit<ReceiptBody, 'signer'> = {
  format: 1,
  deviceId: 'ship-7:engine',
  moduleId: 'lighter',
  bundleId: D('a'),
  version: 12,
  file: { name: 'x.bundle', sha256: D('b'), size: 1234 },
  result: 'applied',
  target: { ref: 'app:v2', id: D('c') },
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:00:03.000Z',
};

describe('receipts', () => {
  it('makes the key once (mode 0600), signs, writes, reads back and verifies with the twin form of the key', async () => {
    const state = join(dir, 'state');
    const [a, b] = await Promise.all([loadOrCreateReceiptKey(state), loadOrCreateReceiptKey(state)]);
    expect(a.keyId).toBe(b.keyId);
    expect(statSync(join(state, RECEIPT_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateReceiptKey(state)).keyId).toBe(a.keyId);

    const receipt = a.sign(body);
    const path = await writeReceipt(join(dir, 'receipts'), receipt);
    expect(path.endsWith(`ship-7_engine-${'a'.repeat(64)}-v12-${'b'.repeat(16)}.receipt.json`)).toBe(true);
    const back = await readReceipt(path);
    expect(back).toEqual(receipt);
    expect(verifyReceipt(back, a.publicKeyBase64)).toEqual({ ok: true });
    expect(verifyReceipt(back, a.publicKeyPem)).toEqual({ ok: true });
  });

  it('refuses an altered receipt, another key, and malformed files specifically', async () => {
    const key = await loadOrCreateReceiptKey(join(dir, 'k1'));
    const other = await loadOrCreateReceiptKey(join(dir, 'k2'));
    const receipt = key.sign(body);
    expect(verifyReceipt({ ...receipt, version: 13 }, key.publicKeyBase64)).toMatchObject({ ok: false, why: 'bad-signature' });
    expect(verifyReceipt({ ...receipt, result: 'failed', reason: 'replay' }, key.publicKeyBase64)).toMatchObject({ ok: false, why: 'bad-signature' });
    expect(verifyReceipt(receipt, other.publicKeyBase64)).toMatchObject({ ok: false, why: 'wrong-key' });

    const bad = join(dir, 'bad.receipt.json');
    writeFileSync(bad, JSON.stringify({ ...receipt, result: 'failed' }));
    await expect(readReceipt(bad)).rejects.toThrow(/reason/);
    writeFileSync(bad, JSON.stringify({ ...receipt, extra: 1 }));
    await expect(readReceipt(bad)).rejects.toThrow(/malformed/);
    writeFileSync(bad, '{"signature":');
    await expect(readReceipt(bad)).rejects.toThrow(/not JSON/);
    expect(() => key.sign({ ...body, result: 'failed' })).toThrow();
  });

  it('names a never-verified file by its digest', () => {
    expect(receiptFileName({ deviceId: 'd', bundleId: null, version: null, file: body.file })).toBe(`d-file-${'b'.repeat(64)}.receipt.json`);
  });

  it('refuses a damaged key instead of silently making a new one', async () => {
    const state = join(dir, 'damaged');
    await loadOrCreateReceiptKey(state);
    writeFileSync(join(state, RECEIPT_KEY_FILE), readFileSync(join(state, RECEIPT_KEY_FILE), 'utf8').slice(0, 40));
    await expect(loadOrCreateReceiptKey(state)).rejects.toThrow(/damaged/);
  });
});
