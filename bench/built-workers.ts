/**
 * Workers from the app's built bundles (out/main/<name>.js, after `npm run build`) instead of their
 * TypeScript sources under tsx's loader, whose start costs each worker about 0.3 s more: for benchmarks
 * that time a worker's start as the app pays it.
 */
import { join } from 'node:path';
import { forkLauncher, useLauncher } from '../src-main/workers/spawn.ts';

export function useBuiltWorkers(): void {
  const built = (name: string) => join(import.meta.dirname, '..', 'out', 'main', `${name}.js`);
  useLauncher((options) => forkLauncher({ ...options, entry: built(options.name), execArgv: [] }));
}
