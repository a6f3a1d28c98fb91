// Secrets (storage account keys, IoT Hub connection strings) are kept only encrypted by the OS
// keychain through safeStorage. On Linux without a keyring Electron falls back to "basic_text", a
// key hard-coded in Chromium: that is plain text with extra steps, so it is refused.
import { safeStorage } from 'electron';
import { secureStorageProblem } from './security.js';

function assertSecure(): void {
  const problem = secureStorageProblem(
    process.platform,
    safeStorage.isEncryptionAvailable(),
    process.platform === 'linux' ? safeStorage.getSelectedStorageBackend() : null,
  );
  if (problem) throw new Error(`refusing to store a secret: ${problem}`);
}

export function encryptSecret(value: string): Buffer {
  assertSecure();
  return safeStorage.encryptString(value);
}

export function decryptSecret(sealed: Buffer): string {
  assertSecure();
  return safeStorage.decryptString(sealed);
}
