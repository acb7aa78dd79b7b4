/**
 * Execution providers: the accelerated one the binding offers on this platform first (CUDA on Linux
 * and Windows, DirectML on Windows, CoreML on macOS), CPU last. CUDA counts as offered only when its
 * provider library was installed next to the binding (onnxruntime-node's optional CUDA download);
 * a provider that still fails at session creation falls through to the next. The UI shows the one
 * that runs. XAIWS_PROVIDER forces one.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { listSupportedBackends } from 'onnxruntime-node';

const PREFERENCE = ['cuda', 'dml', 'coreml', 'cpu'];

export function availableProviders(): string[] {
  return listSupportedBackends()
    .filter((backend) => backend.bundled || (backend.name === 'cuda' && cudaLibraryPresent()))
    .map((backend) => backend.name);
}

export function candidateProviders(): string[] {
  const forced = process.env.XAIWS_PROVIDER;
  if (forced) return [forced];
  const available = new Set(availableProviders());
  return PREFERENCE.filter((name) => available.has(name) || name === 'cpu');
}

let cudaPresent: boolean | undefined;
function cudaLibraryPresent(): boolean {
  if (cudaPresent === undefined) {
    try {
      const root = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
      cudaPresent = readdirSync(root).some((napi) => {
        const folder = join(root, napi, process.platform, process.arch);
        return (
          existsSync(join(folder, 'libonnxruntime_providers_cuda.so')) ||
          existsSync(join(folder, 'onnxruntime_providers_cuda.dll'))
        );
      });
    } catch {
      cudaPresent = false;
    }
  }
  return cudaPresent;
}
