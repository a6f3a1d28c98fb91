// The slice of Electron's API the shell and preload use, declared here because the `electron`
// package cannot be installed on machines without GitHub access: versions whose engines accept
// Node 20 (<= 40) download the binary in a postinstall that fails `npm ci` offline, and later ones
// need Node 22. Signatures follow Electron 40's electron.d.ts.
declare module 'electron' {
  interface Event {
    preventDefault(): void;
  }

  interface WebFrameMain {
    readonly url: string;
    readonly parent: WebFrameMain | null;
  }

  interface Session {
    setPermissionRequestHandler(handler: ((webContents: WebContents, permission: string, callback: (granted: boolean) => void) => void) | null): void;
    setPermissionCheckHandler(handler: ((webContents: WebContents | null, permission: string) => boolean) | null): void;
    setDevicePermissionHandler(handler: ((details: { deviceType: string; origin: string }) => boolean) | null): void;
  }

  interface WebContents {
    readonly session: Session;
    on(event: 'will-navigate' | 'will-redirect', listener: (event: Event, url: string) => void): this;
    on(event: 'will-attach-webview', listener: (event: Event) => void): this;
    setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' } | { action: 'allow' }): void;
    send(channel: string, ...args: unknown[]): void;
    isDestroyed(): boolean;
    getURL(): string;
  }

  interface IpcMainInvokeEvent {
    readonly sender: WebContents;
    readonly senderFrame: WebFrameMain | null;
  }

  interface WebPreferences {
    preload?: string;
    contextIsolation?: boolean;
    sandbox?: boolean;
    nodeIntegration?: boolean;
    nodeIntegrationInSubFrames?: boolean;
    nodeIntegrationInWorker?: boolean;
    webSecurity?: boolean;
    allowRunningInsecureContent?: boolean;
    webviewTag?: boolean;
    navigateOnDragDrop?: boolean;
    spellcheck?: boolean;
  }

  export class BrowserWindow {
    constructor(options: { width?: number; height?: number; minWidth?: number; minHeight?: number; show?: boolean; title?: string; backgroundColor?: string; webPreferences?: WebPreferences });
    readonly webContents: WebContents;
    loadFile(path: string): Promise<void>;
    once(event: 'ready-to-show', listener: () => void): this;
    show(): void;
    static getAllWindows(): BrowserWindow[];
    static getFocusedWindow(): BrowserWindow | null;
  }

  interface OpenDialogOptions {
    title?: string;
    buttonLabel?: string;
    filters?: Array<{ name: string; extensions: string[] }>;
    properties?: Array<'openFile' | 'openDirectory' | 'multiSelections' | 'showHiddenFiles'>;
  }

  export const dialog: {
    showOpenDialog(window: BrowserWindow, options: OpenDialogOptions): Promise<{ canceled: boolean; filePaths: string[] }>;
    showOpenDialog(options: OpenDialogOptions): Promise<{ canceled: boolean; filePaths: string[] }>;
  };

  export const app: {
    readonly isPackaged: boolean;
    whenReady(): Promise<void>;
    enableSandbox(): void;
    quit(): void;
    exit(code?: number): void;
    on(event: 'window-all-closed' | 'activate' | 'will-quit', listener: () => void): void;
    on(event: 'before-quit', listener: (event: Event) => void): void;
    on(event: 'web-contents-created', listener: (event: Event, contents: WebContents) => void): void;
  };

  export const ipcMain: {
    handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown): void;
  };

  export const safeStorage: {
    isEncryptionAvailable(): boolean;
    /** Linux only: "basic_text" means no keyring, i.e. a hard-coded key */
    getSelectedStorageBackend(): 'basic_text' | 'gnome_libsecret' | 'kwallet' | 'kwallet5' | 'kwallet6' | 'unknown';
    encryptString(plainText: string): Buffer;
    decryptString(encrypted: Buffer): string;
  };

  export const session: { readonly defaultSession: Session };

  export const contextBridge: {
    exposeInMainWorld(apiKey: string, api: unknown): void;
  };

  interface IpcRendererEvent {
    readonly sender: unknown;
  }

  export const ipcRenderer: {
    invoke(channel: string, ...args: unknown[]): Promise<unknown>;
    on(channel: string, listener: (event: IpcRendererEvent, ...args: unknown[]) => void): void;
    removeListener(channel: string, listener: (event: IpcRendererEvent, ...args: unknown[]) => void): void;
  };

  export class Notification {
    constructor(options: { title: string; body?: string; silent?: boolean });
    show(): void;
    static isSupported(): boolean;
  }

  export const dialog: {
    showOpenDialog(window: BrowserWindow, options: { title?: string; properties: Array<'openFile' | 'openDirectory' | 'createDirectory'>; filters?: Array<{ name: string; extensions: string[] }> }): Promise<{ canceled: boolean; filePaths: string[] }>;
  };
}
