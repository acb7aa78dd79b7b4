/** `xaiws serve`: the browser host on 127.0.0.1, printing its URL and opening the default browser. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createRouter } from '../api/router.ts';
import { startHost } from '../transport/host.ts';
import type { Workstation } from '../workstation.ts';

export interface ServeOptions {
  project?: string;
  demo: boolean;
  port?: string;
  host?: string;
  open: boolean;
  rendererDir: string;
}

export async function serve(workstation: Workstation, options: ServeOptions): Promise<number> {
  if (!existsSync(join(options.rendererDir, 'index.html'))) {
    process.stderr.write(`The renderer is not built (${options.rendererDir} has no index.html). Run: npm run build\n`);
    return 1;
  }
  try {
    if (options.project) await workstation.openProject(options.project);
    else if (options.demo) await workstation.openDemo();
  } catch (error) {
    process.stderr.write(`Could not open the project: ${(error as Error).message}\n`);
  }
  const host = await startHost(workstation, createRouter(workstation), {
    rendererDir: options.rendererDir,
    host: options.host,
    port: options.port ? Number(options.port) : undefined,
  });
  process.stdout.write(`${JSON.stringify({ url: host.url })}\n`);
  process.stderr.write(`XAI Workstation is running at ${host.url}\nPress Ctrl+C to stop.\n`);
  if (options.open) openBrowser(host.url);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await host.close();
  await workstation.shutdown();
  return 0;
}

/** Opens the default browser where the desktop has one; says so plainly where it does not. */
function openBrowser(url: string): void {
  const command = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const child = spawn(command, [url], { stdio: 'ignore', detached: true });
  child.on('error', () =>
    process.stderr.write(
      `No default browser could be started (${command} not available); open the URL above yourself.\n`,
    ),
  );
  child.unref();
}
