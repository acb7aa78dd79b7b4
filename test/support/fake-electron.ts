/**
 * A small stand-in for the parts of `electron` the app uses, recording every call, so the
 * Electron-only code runs in plain Node (no Electron binary here). Not a simulation of Electron:
 * it only lets tests see what the app asked Electron to do.
 */
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';

type Handler = (...args: any[]) => any;

export const calls = {
  ipcHandlers: new Map<string, Handler>(),
  protocolHandlers: new Map<string, (request: Request) => Promise<Response> | Response>(),
  privilegedSchemes: [] as unknown[],
  windows: [] as FakeBrowserWindow[],
  openedExternally: [] as string[],
  permissionHandler: null as Handler | null,
  permissionCheckHandler: null as Handler | null,
  sandboxEnabled: false,
  exposed: new Map<string, any>(),
  invoked: [] as unknown[][],
  utilityForks: [] as { modulePath: string; args: string[]; options: Record<string, any> }[],
  dialogs: [] as { kind: 'open' | 'save'; options: Record<string, any> }[],
  /** What the next dialogs answer (the user's choice), in order. */
  dialogAnswers: [] as { canceled: boolean; filePaths?: string[]; filePath?: string }[],
  printed: [] as { file: string; options: Record<string, any> }[],
};

export const ipcRenderer = Object.assign(new EventEmitter(), {
  invoke: async (...args: unknown[]) => {
    calls.invoked.push(args);
    return { ok: true, value: null };
  },
});

export const contextBridge = {
  exposeInMainWorld: (key: string, api: unknown) => calls.exposed.set(key, api),
};

export function reset(): void {
  calls.ipcHandlers.clear();
  calls.protocolHandlers.clear();
  calls.privilegedSchemes.length = 0;
  calls.windows.length = 0;
  calls.openedExternally.length = 0;
  calls.permissionHandler = null;
  calls.permissionCheckHandler = null;
  calls.exposed.clear();
  calls.invoked.length = 0;
  calls.utilityForks.length = 0;
  calls.dialogs.length = 0;
  calls.dialogAnswers.length = 0;
  calls.printed.length = 0;
  ipcRenderer.removeAllListeners();
  app.removeAllListeners();
}

export class FakeWebContents extends EventEmitter {
  /** A PDF of the loaded page: here the page's own URL as its bytes, so a test sees what was printed. */
  async printToPDF(options: Record<string, any>) {
    const window = calls.windows.find((w) => w.webContents === this)!;
    calls.printed.push({ file: window.loadedUrl, options });
    return Buffer.from(`%PDF-fake ${window.loadedUrl}`);
  }
  windowOpenHandler: Handler | null = null;
  mainFrame = { url: 'xai-app://app/index.html' };
  sent: unknown[][] = [];
  setWindowOpenHandler(handler: Handler) {
    this.windowOpenHandler = handler;
  }
  send(...args: unknown[]) {
    this.sent.push(args);
  }
  isDestroyed() {
    return false;
  }
}

export class FakeBrowserWindow extends EventEmitter {
  static getAllWindows = () => calls.windows;
  webContents = new FakeWebContents();
  loadedUrl = '';
  constructor(readonly options: Record<string, any>) {
    super();
    calls.windows.push(this);
  }
  loadURL(url: string) {
    this.loadedUrl = url;
    return Promise.resolve();
  }
  loadFile(file: string) {
    this.loadedUrl = `file://${file}`;
    return Promise.resolve();
  }
  show() {}
  destroyed = false;
  destroy() {
    this.destroyed = true;
  }
  static getFocusedWindow = () => calls.windows.find((w) => !w.destroyed) ?? null;
}

export const app = Object.assign(new EventEmitter(), {
  isPackaged: false,
  enableSandbox: () => (calls.sandboxEnabled = true),
  getPath: () => '/tmp/xaiws-fake-electron',
  whenReady: () => new Promise<void>(() => undefined),
  quit: () => undefined,
});

export const ipcMain = {
  handle: (channel: string, handler: Handler) => calls.ipcHandlers.set(channel, handler),
  removeHandler: (channel: string) => calls.ipcHandlers.delete(channel),
};

export const protocol = {
  registerSchemesAsPrivileged: (schemes: unknown[]) => calls.privilegedSchemes.push(...schemes),
  handle: (scheme: string, handler: (request: Request) => Promise<Response>) =>
    calls.protocolHandlers.set(scheme, handler),
};

export const session = {
  defaultSession: {
    setPermissionRequestHandler: (handler: Handler) => (calls.permissionHandler = handler),
    setPermissionCheckHandler: (handler: Handler) => (calls.permissionCheckHandler = handler),
  },
};

export const shell = { openExternal: async (url: string) => void calls.openedExternally.push(url) };
export const nativeTheme = { shouldUseDarkColors: false };
export const BrowserWindow = FakeBrowserWindow;

const answer = (kind: 'open' | 'save', options: Record<string, any>) => {
  calls.dialogs.push({ kind, options });
  return Promise.resolve(calls.dialogAnswers.shift() ?? { canceled: true, filePaths: [] });
};
export const dialog = {
  showOpenDialog: (...args: any[]) => answer('open', args.at(-1)),
  showSaveDialog: (...args: any[]) => answer('save', args.at(-1)),
};

/**
 * Electron's utilityProcess.fork as far as the app uses it: a Node process with `process.parentPort`
 * (fake-parent-port.mjs), `postMessage`, `kill`, `pid`, and 'message' and 'exit' (a code only) events.
 */
export const utilityProcess = {
  fork(modulePath: string, args: string[] = [], options: Record<string, any> = {}) {
    calls.utilityForks.push({ modulePath, args, options });
    const shim = new URL('./fake-parent-port.mjs', import.meta.url).href;
    const child = fork(modulePath, args, {
      execArgv: [...(options.execArgv ?? []), '--import', shim],
      env: options.env,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const utility = Object.assign(new EventEmitter(), {
      get pid() {
        return child.pid;
      },
      postMessage: (message: unknown) => child.send(message as never),
      kill: () => child.kill('SIGTERM'),
    });
    child.on('message', (message) => utility.emit('message', message));
    child.on('exit', (code) => utility.emit('exit', code ?? 1));
    return utility;
  },
};
export default {
  app,
  ipcMain,
  ipcRenderer,
  contextBridge,
  protocol,
  session,
  shell,
  nativeTheme,
  BrowserWindow,
  utilityProcess,
  dialog,
};
