#!/usr/bin/env node
/**
 * npm start: builds when the sources are newer than the build, then opens the workstation on the demo
 * project: in an Electron window when the Electron binary is installed, otherwise through the browser
 * host (prints the URL and opens the default browser when the desktop has one).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function buildIfStale() {
  const built = join(root, 'out', 'renderer', 'index.html');
  const sources = Math.max(
    ...['src-main', 'src-renderer', 'src-preload', 'src-shared'].map((dir) => newest(join(root, dir))),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sources && existsSync(join(root, 'out', 'main', 'index.js')))
    return;
  console.error('Building the workstation…');
  const result = spawnSync(
    process.execPath,
    [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'],
    { cwd: root, stdio: 'inherit' },
  );
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function electronBinary() {
  // Without better-sqlite3 built for Electron (npm run electron:fetch) the window could not open a project.
  if (!existsSync(join(root, 'native', 'electron', 'better_sqlite3.node'))) return null;
  try {
    const pathFile = join(root, 'node_modules', 'electron', 'path.txt');
    const binary = join(root, 'node_modules', 'electron', 'dist', readFileSync(pathFile, 'utf8').trim());
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

function canOpenBrowser() {
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

buildIfStale();
const electron = electronBinary();
const child = electron
  ? spawn(electron, [root, ...args], { stdio: 'inherit' })
  : (console.error(
      'No Electron binary is installed (npm run electron:fetch tries to fetch it); opening the workstation in the browser instead.',
    ),
    spawn(
      process.execPath,
      [
        join(root, 'bin', 'xaiws.mjs'),
        'serve',
        ...(args.length ? args : ['--demo']),
        ...(canOpenBrowser() ? ['--open'] : []),
      ],
      { stdio: 'inherit' },
    ));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
