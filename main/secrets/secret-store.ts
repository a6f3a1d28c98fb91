// Where Lighter keeps secrets (hub connection strings, the SMTP password, storage credentials):
// never in the inventory, never printed or logged. One interface, two backends: the Electron app
// seals them with the OS keychain (main/shell/safe-storage-secrets.ts, refusing the plain-text
// backend); headless, FileSecretStore keeps them in 0600 files under the data directory.
export interface SecretStore {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string): Promise<void>;
  delete(name: string): Promise<boolean>;
}

/** Secret names are file names too: letters, digits and . _ - only. */
export function checkSecretName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) throw new Error(`invalid secret name ${JSON.stringify(name)}`);
  return name;
}
