/**
 * The two demo projects (services/demos.ts): the first start creates both project files and opens
 * Fashion-MNIST's; the colour benchmark fills when it is opened by its path from the recent list (its
 * ResNet, whose bundle the views find, its 800 test images, their predictions, its truth file beside the
 * import); a CLI command that opens a demo's file does only its one thing.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { benchmarkTruths } from '../../src-main/explain/benchmark-service.ts';
import { bundleForModel } from '../../src-main/explain/bundles.ts';
import { demoPath } from '../../src-main/services/demos.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

const open: Workstation[] = [];
const workstation = (dataDir: string, transport: 'host' | 'cli') => {
  const ws = new Workstation({ dataDir, resourcesDir: join(ROOT, 'resources'), transport });
  open.push(ws);
  return ws;
};
const idle = (ws: Workstation) =>
  expect
    .poll(() => ws.jobs.list().filter((job) => job.status === 'running' || job.status === 'queued').length, {
      timeout: 300_000,
    })
    .toBe(0);

afterEach(async () => {
  await Promise.all(open.splice(0).map((ws) => ws.shutdown()));
});

describe('the demo projects', () => {
  it('creates both on the first start, and the colour benchmark fills when it opens from the recent list', async () => {
    const dataDir = tempDir();
    const ws = workstation(dataDir, 'host');
    const summary = await ws.openDemo();
    expect(summary.name).toBe('Fashion-MNIST demo');
    expect(existsSync(demoPath(dataDir, 'colour-benchmark'))).toBe(true);
    expect(ws.recent().map((entry) => entry.name)).toEqual(['Fashion-MNIST demo', 'Colour benchmark demo']);
    await idle(ws);

    const colour = ws.recent()[1]!;
    await ws.openProject(colour.path);
    await idle(ws);
    const [model] = ws.project.models.list();
    const [dataset] = ws.project.datasets.list();
    expect(dataset).toMatchObject({ images: 800, classes: expect.arrayContaining(['yellow ring']) });
    expect(ws.project.predictions.count(model!.id, dataset!.id)).toBe(800);
    const bundle = await bundleForModel(model!, ws.pool);
    expect(Object.keys(bundle.ref.models)).toEqual(
      expect.arrayContaining(['dxai', 'cae-encoder', 'cae-decoder', 'infodisent']),
    );
    expect(benchmarkTruths(ws)).toEqual([
      expect.objectContaining({ path: join(ROOT, 'resources/datasets/colour-benchmark/benchmark.json') }),
    ]);

    // Opened again: nothing is imported twice.
    await ws.openDemo('colour-benchmark');
    await idle(ws);
    expect(ws.project.datasets.list()).toHaveLength(1);
    expect(ws.jobs.list().filter((job) => job.kind === 'import')).toHaveLength(1);
  });

  it('a CLI command that opens a demo file starts no jobs', async () => {
    const dataDir = tempDir();
    await workstation(dataDir, 'host').openDemo('colour-benchmark');
    const cli = workstation(dataDir, 'cli');
    await cli.openProject(demoPath(dataDir, 'fashion-mnist'));
    expect(cli.jobs.list()).toEqual([]);
    expect(cli.project.models.list()).toEqual([]);
  });
});
