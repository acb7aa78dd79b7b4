/** A real workstation behind a real browser host, in this process, for end-to-end tests and screenshots. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRouter } from '../../src-main/api/router.ts';
import { startHost, type RunningHost } from '../../src-main/transport/host.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { startCrowd } from '../../src-main/transport/crowd.ts';

export const ROOT = resolve(import.meta.dirname, '..', '..');

export interface TestHost {
  workstation: Workstation;
  host: RunningHost;
  dir: string;
  close(): Promise<void>;
}

export async function startTestHost(): Promise<TestHost> {
  const dir = mkdtempSync(join(tmpdir(), 'xaiws-e2e-'));
  const workstation = new Workstation({
    dataDir: join(dir, 'home'),
    resourcesDir: join(ROOT, 'resources'),
    transport: 'host',
    crowdHost: startCrowd,
  });
  const host = await startHost(workstation, createRouter(workstation), { rendererDir: join(ROOT, 'out', 'renderer') });
  return {
    workstation,
    host,
    dir,
    close: async () => {
      await host.close();
      await workstation.shutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
