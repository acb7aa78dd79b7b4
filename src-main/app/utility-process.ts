/**
 * Worker processes inside the Electron app: Electron's `utilityProcess` (a Node child process the
 * app's own runtime starts and owns; Chromium's service sandbox does not apply, it needs Node) rather
 * than `child_process.fork`, which in Electron would start the whole Electron binary again. The
 * worker's side (workers/serve.ts) finds `process.parentPort` there. Registered by main.ts before any
 * worker starts.
 */
import { utilityProcess } from 'electron';
import type { Launcher } from '../workers/spawn.ts';

export const utilityLauncher: Launcher = ({ name, entry, env, execArgv }) => {
  const child = utilityProcess.fork(entry, [name], {
    env,
    execArgv,
    serviceName: `XAI Workstation ${name}`,
    stdio: 'inherit',
  });
  let alive = true;
  child.once('exit', () => (alive = false));
  return {
    get pid() {
      return child.pid;
    },
    send: (message) => {
      if (alive) child.postMessage(message);
    },
    onMessage: (handler) => child.on('message', handler),
    onExit: (handler) => child.once('exit', (code) => handler(code, null)),
    kill: () => {
      if (alive) child.kill();
    },
    hold: () => undefined, // the app's event loop lives as long as its windows, whatever its workers do
  };
};
