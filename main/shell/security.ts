// Everything that keeps web content in its box, in one module: which frames may call IPC, no
// navigation or new windows, no webviews, every permission (camera, notifications, USB...) denied,
// and when secrets may be stored. The checks are plain functions so they are tested in Node.
import type { Session, WebContents } from 'electron';
import { pathToFileURL } from 'node:url';

/** The only page allowed to call the contract: our renderer's index.html, as a top-level frame. */
export function trustedPage(indexHtml: string): string {
  return pathToFileURL(indexHtml).href;
}

export function isTrustedSender(frame: { url: string; parent: unknown } | null, trusted: string): boolean {
  if (!frame || frame.parent !== null) return false;
  let url: URL;
  try {
    url = new URL(frame.url);
  } catch {
    return false;
  }
  const want = new URL(trusted);
  return url.protocol === 'file:' && url.host === '' && url.pathname === want.pathname;
}

export function denyAllPermissions(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
}

/** Our page never navigates (the renderer routes in memory) and never opens windows. */
export function lockDown(contents: WebContents, trusted: string): void {
  const stay = (event: { preventDefault(): void }, url: string) => {
    if (url.split('#')[0] !== trusted) event.preventDefault();
  };
  contents.on('will-navigate', stay);
  contents.on('will-redirect', stay);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** Why secrets cannot be stored encrypted here, or null when the OS keychain is usable. */
export function secureStorageProblem(platform: NodeJS.Platform, available: boolean, backend: string | null): string | null {
  if (!available) return 'the OS keychain is not available, so secrets cannot be stored encrypted';
  if (platform === 'linux' && (backend === 'basic_text' || backend === 'unknown')) {
    return `no keyring is running (Electron's backend is ${backend}); start gnome-keyring or KWallet, or use the CLI with secrets from the environment`;
  }
  return null;
}
