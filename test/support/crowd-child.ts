/**
 * A crowd host in its own process (for the SIGKILL test and the load benchmark): opens PROJECT, opens
 * session SESSION on 127.0.0.1 and prints {url, code} as one JSON line on stdout.
 */
import { join } from 'node:path';
import { Workstation } from '../../src-main/workstation.ts';
import { startCrowd } from '../../src-main/transport/crowd.ts';
import { ROOT } from './host.ts';

const [project, session] = process.argv.slice(2);
const ws = new Workstation({
  dataDir: join(project!, '..', 'home'),
  resourcesDir: join(ROOT, 'resources'),
  transport: 'host',
  crowdHost: startCrowd,
});
await ws.openProject(project!);
const crowd = await ws.crowds.open(Number(session), '127.0.0.1');
process.stdout.write(`${JSON.stringify({ url: crowd.url, code: crowd.code })}\n`);
process.on('SIGTERM', () => void ws.shutdown().then(() => process.exit(0)));
