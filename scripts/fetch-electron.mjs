#!/usr/bin/env node
/**
 * npm run electron:fetch: tries to download the Electron binary (npm ci skips it, see package.json
 * allowScripts) and says plainly whether it worked. Without it the workstation runs in the browser.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const installer = join(root, 'node_modules', 'electron', 'install.js');
if (!existsSync(installer)) {
  console.error('The electron package is not installed; run npm ci first.');
  process.exit(1);
}
console.error('Fetching the Electron binary…');
const result = spawnSync(process.execPath, [installer], { cwd: join(root, 'node_modules', 'electron'), encoding: 'utf8', timeout: 10 * 60_000 });
if (result.status === 0 && existsSync(join(root, 'node_modules', 'electron', 'path.txt'))) {
  console.log('Electron is installed: npm start now opens the desktop window.');
  process.exit(0);
}
const output = `${result.stderr ?? ''}${result.stdout ?? ''}${result.error ? String(result.error) : ''}`.split('\n').map((line) => line.trim());
const reason = output.find((line) => /error|ENOTFOUND|ECONN|EAI_AGAIN|timed out/i.test(line) && !line.startsWith('at ')) ?? output.find(Boolean) ?? '';
console.error(`Could not fetch the Electron binary: the download failed${reason ? `:\n  ${reason}` : ''}.
This machine probably has no access to GitHub's release downloads (or Node is older than Electron's installer needs: ${process.version}).
Nothing else is affected: npm start runs the workstation in your browser, and npm test passes without Electron.
To install Electron later: set ELECTRON_MIRROR to a reachable mirror, or put the zip in the electron cache, then run npm run electron:fetch again.`);
process.exit(1);
