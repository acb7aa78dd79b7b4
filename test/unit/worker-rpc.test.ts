/**
 * The worker RPC under both launchers: Electron's utilityProcess (the app; here the recording fake,
 * a real Node process with `process.parentPort`) and Node's fork (the CLI, the host). A call streams
 * progress, a cancelled call stops inside the worker (the sanity check, which could not be cancelled
 * before), a worker killed with SIGKILL mid-call fails that call with `worker_crashed` naming the
 * model, and the next call gets a fresh worker.
 */
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
vi.mock('electron', () => import('../support/fake-electron.ts'));
import { calls, reset } from '../support/fake-electron.ts';
import { utilityLauncher } from '../../src-main/app/utility-process.ts';
import { InferencePool } from '../../src-main/workers/inference-pool.ts';
import { forkLauncher, useLauncher } from '../../src-main/workers/spawn.ts';
import type { ModelRef } from '../../src-main/workers/protocols.ts';
import type { Manifest } from '../../src-shared/contract.ts';
import { seededUniform } from '../../src-shared/random.ts';
import { ROOT } from '../support/host.ts';
import { readFileSync } from 'node:fs';

const DEMO = join(ROOT, 'resources/models/fashion-mnist-cnn');
const model: ModelRef = {
  key: 'demo-classifier',
  path: join(DEMO, 'classifier.onnx'),
  manifest: JSON.parse(readFileSync(join(DEMO, 'classifier.manifest.json'), 'utf8')) as Manifest,
};
const LAYER = '/features/features.10/Relu_output_0';

/** Seeded noise images, normalised as the demo classifier expects. */
function images(count: number): Float32Array {
  const next = seededUniform(count);
  return Float32Array.from({ length: count * 28 * 28 }, () => (next() - 0.286) / 0.353);
}

afterEach(() => useLauncher(forkLauncher));
afterAll(() => reset());

describe.each([
  ['utilityProcess (the Electron app)', utilityLauncher],
  ['fork (CLI and browser host)', forkLauncher],
])('worker RPC under %s', (_name, launcher) => {
  it('answers typed calls with progress, stops a cancelled sanity check inside the worker, and survives kill -9', async () => {
    useLauncher(launcher);
    reset();
    const pool = new InferencePool(1, 1);
    try {
      const described = await pool.call('inspect', { key: model.key, path: model.path });
      expect(described.inputs[0]!.shape.slice(1)).toEqual([1, 28, 28]);
      if (launcher === utilityLauncher) expect(calls.utilityForks.map((f) => f.args[0])).toEqual(['inference-worker']);

      const progress: number[] = [];
      const { results } = await pool.call(
        'cam',
        {
          model,
          source: { tensor: images(4), count: 4 },
          request: { method: 'scorecam', layer: LAYER, targets: [-1, -1, -1, -1] },
        },
        { progress: ({ done }) => progress.push(done) },
      );
      expect(results).toHaveLength(4);
      expect(progress.at(-1)).toBe(4);

      // The sanity check re-explains with one more randomised layer per step: cancelled after its first step, it stops there.
      const controller = new AbortController();
      const steps: number[] = [];
      const sanity = pool.call(
        'sanity',
        {
          model,
          source: { tensor: images(1), count: 1 },
          request: { method: 'scorecam', layer: LAYER, target: -1 },
          fullOnly: false,
        },
        {
          signal: controller.signal,
          progress: ({ done }) => {
            steps.push(done);
            controller.abort();
          },
        },
      );
      await expect(sanity).rejects.toMatchObject({ code: 'cancelled' });
      expect(steps.length).toBeLessThan(4);
      const pid = pool.pids[0]!;
      expect(pool.pids).toEqual([pid]); // the same worker goes on: a cancel is not a crash

      let killed = false;
      const doomed = pool.call(
        'cam',
        {
          model,
          source: { tensor: images(64), count: 64 },
          request: { method: 'scorecam', layer: LAYER, targets: new Array(64).fill(-1) },
        },
        {
          progress: () => {
            if (killed) return;
            killed = true;
            process.kill(pid, 'SIGKILL');
          },
        },
      );
      await expect(doomed).rejects.toMatchObject({
        code: 'worker_crashed',
        message: expect.stringContaining('classifier.onnx'),
      });
      const again = await pool.call('cam', {
        model,
        source: { tensor: images(2), count: 2 },
        request: { method: 'gradcam', layer: LAYER, targets: [-1, -1] },
      });
      expect(again.results).toHaveLength(2);
      expect(pool.pids[0]).not.toBe(pid);
    } finally {
      await pool.close();
    }
  });
});
