/**
 * A browser host in its own process with no project open, for tests that must see the process
 * survive (or die): prints {url, token, port} as one JSON line on stdout; stderr is the host's log.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRouter } from '../../src-main/api/router.ts';
import { startHost } from '../../src-main/transport/host.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { ROOT } from './host.ts';

const home = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'xaiws-host-child-'));
const workstation = new Workstation({ dataDir: home, resourcesDir: join(ROOT, 'resources'), transport: 'host' });
const host = await startHost(workstation, createRouter(workstation), { rendererDir: join(ROOT, 'out', 'renderer') });
process.stdout.write(`${JSON.stringify({ url: host.url, token: host.token, port: host.port })}\n`);
process.on(
  'SIGTERM',
  () =>
    void host
      .close()
      .then(() => workstation.shutdown())
      .then(() => process.exit(0)),
);
