#!/usr/bin/env node
/**
 * npm run electron:fetch: tries to download the Electron binary (npm ci skips it, see package.json
 * allowScripts) and says plainly whether it worked. Without it the workstation runs in the browser.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const installer = join(root, 'node_modules', 'electron', 'install.js');
if (!existsSync(installer)) {
  console.error('The electron package is not installed; run npm ci first.');
  process.exit(1);
}
console.error('Fetching the Electron binary…');
const result = spawnSync(process.execPath, [installer], {
  cwd: join(root, 'node_modules', 'electron'),
  encoding: 'utf8',
  timeout: 10 * 60_000,
});
if (result.status === 0 && existsSync(join(root, 'node_modules', 'electron', 'path.txt'))) {
  console.log('Electron is installed.');
  process.exit(buildSqliteForElectron() ? 0 : 1);
}
const output = `${result.stderr ?? ''}${result.stdout ?? ''}${result.error ? String(result.error) : ''}`
  .split('\n')
  .map((line) => line.trim());
const reason =
  output.find((line) => /error|ENOTFOUND|ECONN|EAI_AGAIN|timed out/i.test(line) && !line.startsWith('at ')) ??
  output.find(Boolean) ??
  '';
console.error(`Could not fetch the Electron binary: the download failed${reason ? `:\n  ${reason}` : ''}.
This machine probably has no access to GitHub's release downloads (or Node is older than Electron's installer needs: ${process.version}).
Nothing else is affected: npm start runs the workstation in your browser, and npm test passes without Electron.
To install Electron later: set ELECTRON_MIRROR to a reachable mirror, or put the zip in the electron cache, then run npm run electron:fetch again.`);
process.exit(1);

/**
 * better-sqlite3 is a native addon built for Node's ABI; Electron needs its own build. It is built in
 * a copy of the package (the Node build that the CLI and tests use stays as it is) and put in
 * native/electron/, where the app looks for it. Needs Electron's headers (from electronjs.org).
 */
function buildSqliteForElectron() {
  const version = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
  const work = mkdtempSync(join(tmpdir(), 'xaiws-sqlite-electron-'));
  try {
    cpSync(join(root, 'node_modules', 'better-sqlite3'), work, { recursive: true });
    rmSync(join(work, 'build'), { recursive: true, force: true });
    console.error(`Building better-sqlite3 for Electron ${version}…`);
    const build = spawnSync(
      'npx',
      [
        '--yes',
        'node-gyp',
        'rebuild',
        '--release',
        `--target=${version}`,
        `--arch=${process.arch}`,
        '--dist-url=https://electronjs.org/headers',
      ],
      {
        cwd: work,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 15 * 60_000,
      },
    );
    const binary = join(work, 'build', 'Release', 'better_sqlite3.node');
    if (build.status !== 0 || !existsSync(binary)) {
      const line =
        `${build.stderr ?? ''}`.split('\n').find((l) => /error|ERR!/i.test(l)) ??
        String(build.error ?? 'node-gyp failed');
      console.error(`Could not build better-sqlite3 for Electron: ${line.trim()}
The Electron window needs it; npm start keeps using the browser host until this step succeeds.`);
      return false;
    }
    mkdirSync(join(root, 'native', 'electron'), { recursive: true });
    cpSync(binary, join(root, 'native', 'electron', 'better_sqlite3.node'));
    console.log('better-sqlite3 is built for Electron: npm start now opens the desktop window.');
    return true;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
