// The importer's checks of the request itself, made before the stick is read: plain HTTP asked
// for a device must come with that device's registry.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeys } from '../../io/keys.js';
import { UsbImporter } from './import.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-usb-import-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('UsbImporter request checks', () => {
  it('refuses plain HTTP for a device that is not applied to a registry, before reading the stick', async () => {
    const keys = await generateKeys(join(dir, 'keys'));
    const importer = new UsbImporter(join(dir, 'data'));
    // the stick folder does not exist: the request is refused before it is looked at
    const stick = join(dir, 'no-stick');
    await expect(importer.import({ dir: stick, pubkey: keys.publicKey, apply: { 'ship-1': 'docker://192.168.1.20:5000' }, insecure: ['ship-2'] })).rejects.toThrow(
      'plain HTTP (insecure) is asked for device ship-2, which is not applied to a registry; give its registry too',
    );
    await expect(importer.import({ dir: stick, pubkey: keys.publicKey, inbox: { 'ship-2': join(dir, 'inbox') }, insecure: ['ship-2'] })).rejects.toThrow(/device ship-2, which is not applied/);
    // with its registry, the same request gets as far as the stick
    await expect(importer.import({ dir: stick, pubkey: keys.publicKey, apply: { 'ship-2': 'docker://192.168.1.20:5000' }, insecure: ['ship-2'] })).rejects.toThrow(/index/);
  });
});
