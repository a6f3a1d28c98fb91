// Everything that keeps web content in its box, in one module: which frames may call IPC, no
// navigation or new windows, no webviews, and every permission (camera, notifications, USB...)
// denied. The checks are plain functions so they are tested in Node without Electron.
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
