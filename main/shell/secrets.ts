// Secrets (storage account keys, IoT Hub connection strings) are kept only encrypted by the OS
// keychain through safeStorage. On Linux without a keyring Electron falls back to "basic_text", a
// key hard-coded in Chromium: that is plain text with extra steps, so it is refused.
import { safeStorage } from 'electron';

export function secureStorageProblem(platform: NodeJS.Platform, available: boolean, backend: string | null): string | null {
  if (!available) return 'the OS keychain is not available, so secrets cannot be stored encrypted';
  if (platform === 'linux' && (backend === 'basic_text' || backend === 'unknown')) {
    return `no keyring is running (Electron's backend is ${backend}); start gnome-keyring or KWallet, or use the CLI with secrets from the environment`;
  }
  return null;
}

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
