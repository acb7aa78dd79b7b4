/**
 * Electron entry: registers the schemes and guards, opens the demo project (or the one on the command
 * line), wires the router to IPC, and opens the window.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow } from 'electron';
import { createRouter } from '../api/router.ts';
import { registerIpc } from '../transport/ipc.ts';
import { Workstation } from '../workstation.ts';
import { startCrowd } from '../transport/crowd.ts';
import { useLauncher } from '../workers/spawn.ts';
import { handleAppProtocol, handleImageProtocol, registerSchemes } from './protocol.ts';
import { installSecurityGuards } from './security.ts';
import { utilityLauncher } from './utility-process.ts';
import { electronDialogs } from './dialogs.ts';
import { printWithElectron } from './pdf.ts';
import { createMainWindow } from './window.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

registerSchemes();
app.enableSandbox();
useLauncher(utilityLauncher); // workers run as Electron utility processes

// better-sqlite3 built for Electron's ABI by npm run electron:fetch (worker processes inherit the env).
const electronSqlite = join(root, 'native', 'electron', 'better_sqlite3.node');
if (existsSync(electronSqlite)) process.env.XAIWS_SQLITE_BINDING = electronSqlite;

const workstation = new Workstation({
  dataDir: process.env.XAIWS_HOME ?? app.getPath('userData'),
  resourcesDir: app.isPackaged ? join(process.resourcesPath, 'resources') : join(root, 'resources'),
  transport: 'ipc',
  crowdHost: startCrowd,
  dialogs: electronDialogs,
  printPdf: printWithElectron,
  rendererDir: join(root, 'out', 'renderer'),
});

app.whenReady().then(async () => {
  installSecurityGuards();
  handleAppProtocol(join(root, 'out', 'renderer'));
  handleImageProtocol(workstation);
  const dispatch = createRouter(workstation);
  registerIpc(workstation, dispatch, () => BrowserWindow.getAllWindows().map((window) => window.webContents));
  const projectArgument = process.argv.slice(app.isPackaged ? 1 : 2).find((arg) => arg.endsWith('.xaiws'));
  await (projectArgument ? workstation.openProject(projectArgument) : workstation.openDemo()).catch(
    (error: unknown) => {
      console.error(`Could not open the project: ${(error as Error).message}`);
    },
  );
  createMainWindow(join(root, 'out', 'preload'));
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createMainWindow(join(root, 'out', 'preload'));
  });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});

app.on('will-quit', () => {
  void workstation.shutdown();
});
