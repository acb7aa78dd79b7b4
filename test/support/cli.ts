/** Runs the CLI (bin/xaiws.mjs) in a child process with XAIWS_HOME set; a failure gives its exit code and stdout. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './host.ts';

const run = promisify(execFile);

export async function runCli(args: string[], home: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [join(ROOT, 'bin/xaiws.mjs'), ...args], {
      env: { ...process.env, XAIWS_HOME: home },
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout };
  } catch (error) {
    const failure = error as { code: number; stdout: string };
    return { code: failure.code, stdout: failure.stdout };
  }
}
