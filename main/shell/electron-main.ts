// The desktop shell: one sandboxed window on the built renderer, the contract over IPC, services
// built by main/services.ts exactly as `lighter console` builds them.
import { app, BrowserWindow, dialog, Notification, session } from 'electron';
import { join } from 'node:path';
import { dataDir } from '../../io/data-dir.js';
import { buildServices, appRoot, rendererDir, type Services } from '../services.js';
import { SafeStorageSecretStore } from './safe-storage-secrets.js';
import { forwardEvents, registerIpc } from './ipc.js';
import { denyAllPermissions, lockDown, trustedPage } from './security.js';

const indexHtml = join(rendererDir(), 'index.html');
const trusted = trustedPage(indexHtml);
let services: Services | null = null;

/** The native file picker over the window in front; main then reads the file (deployments.pickManifest). */
async function pickManifest(): Promise<string | null> {
  const options = { title: 'Open a deployment manifest', filters: [{ name: 'Deployment manifest', extensions: ['json'] }], properties: ['openFile' as const] };
  const win = BrowserWindow.getFocusedWindow();
  const chosen = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
  return chosen.canceled ? null : (chosen.filePaths[0] ?? null);
}

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'Lighter',
    backgroundColor: '#f4f6f9',
    webPreferences: {
      preload: join(appRoot(), 'dist', 'preload', 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadFile(indexHtml);
}

app.enableSandbox();
app.on('web-contents-created', (_event, contents) => lockDown(contents, trusted));
app.on('window-all-closed', () => app.quit());
// Running jobs are cancelled (they clean up their temp files) before the inventory closes.
app.on('before-quit', (event) => {
  if (!services) return;
  event.preventDefault();
  const closing = services;
  services = null;
  void closing.close().finally(() => app.exit(0));
});
app.on('activate', () => {
  if (BrowserWindow.getAllWindows().length === 0) createWindow();
});

await app.whenReady();
denyAllPermissions(session.defaultSession);
// Secrets go to the OS keychain in the app, never to the headless file store.
services = await buildServices({ shell: 'electron', secrets: new SafeStorageSecretStore(dataDir()), backgroundSync: {}, pickManifest });
registerIpc(services.handlers, trusted);
forwardEvents(services.events, trusted);
// What syncs and pushes yield (an image applied or failed, a deployment ready or pushed) also shows
// as a desktop notification; the renderer's list reads the same records.
services.hub.notifications.subscribe((n) => {
  if (Notification.isSupported()) new Notification({ title: `Lighter: ${n.kind.replace('-', ' ')}`, body: n.message }).show();
});
createWindow();
