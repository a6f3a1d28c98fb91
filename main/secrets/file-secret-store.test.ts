import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from './file-secret-store.js';

const dir = mkdtempSync(join(tmpdir(), 'lighter-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('FileSecretStore', () => {
  it('keeps a secret sealed in a 0600 file, readable back, never in clear on disk', async () => {
    const s = new FileSecretStore(dir);
    const value = 'HostName=h.azure-devices.net;SharedAccessKeyName=p;SharedAccessKey=c2VjcmV0LWtleS12YWx1ZQ==';
    await s.set('hub.fleet', value);
    expect(await s.get('hub.fleet')).toBe(value);
    expect(statSync(join(dir, 'secrets')).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(join(dir, 'secrets'))) {
      expect(statSync(join(dir, 'secrets', f)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, 'secrets', f)).includes('SharedAccessKey')).toBe(false);
    }
    expect(await s.get('hub.other')).toBeUndefined();
    expect(await s.delete('hub.fleet')).toBe(true);
    expect(await s.get('hub.fleet')).toBeUndefined();
  });

  it('refuses a group-readable secret file, a tampered one, and a bad name', async () => {
    const s = new FileSecretStore(dir);
    await s.set('smtp.password', 'pw');
    const file = join(dir, 'secrets', 'smtp.password.secret');
    chmodSync(file, 0o640);
    await expect(s.get('smtp.password')).rejects.toThrow(/mode is 640/);
    chmodSync(file, 0o600);
    const b = readFileSync(file);
    b[b.length - 1] = b[b.length - 1]! ^ 1;
    writeFileSync(file, b);
    await expect(s.get('smtp.password')).rejects.toThrow(/does not open/);
    await expect(s.set('../x', 'y')).rejects.toThrow(/invalid secret name/);
  });
});
