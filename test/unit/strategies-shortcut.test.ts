/**
 * SpRAy finds a Clever Hans strategy (issue 19, point 2). A small ResNet is trained on the colour
 * benchmark with the shortcut class's objects swapped for another class's, so the corner mark is all
 * it can learn of that class (training/benchmark_classifier.py --clever-hans). On the benchmark's test
 * images of that class, half of them marked, the strategies job puts the marked images apart from the
 * unmarked ones: no cluster mixes them, the most unusual cluster is one of marked images whose mean map
 * peaks in the mark's corner, and the model predicts the class for no unmarked image.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImport } from '../../src-main/datasets/service.ts';
import { startStrategies, strategiesResult } from '../../src-main/explain/strategies.ts';
import { addModel } from '../../src-main/models/service.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

let ws: Workstation;
let modelId: number;
let datasetId: number;
let markedOf: (imageId: number) => boolean;
const SHORTCUT_CLASS = 3;

beforeAll(async () => {
  const dir = tempDir();
  const python = (args: string[]) => execFileSync('/usr/bin/python3', ['-m', 'training', ...args], { cwd: ROOT });
  python([
    'benchmark-classifier',
    '--out',
    join(dir, 'model'),
    '--train',
    '800',
    '--test',
    '40',
    '--epochs',
    '3',
    '--clever-hans',
  ]);
  python(['benchmark', '--out', join(dir, 'data'), '--train', '0', '--test', '400']);
  const truth = JSON.parse(readFileSync(join(dir, 'data', 'benchmark.json'), 'utf8')) as {
    images: { image: string; shortcut: boolean }[];
  };
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  await ws.createProject(join(dir, 'clever.xaiws'));
  modelId = (
    await addModel(ws, {
      path: join(dir, 'model', 'classifier.onnx'),
      manifestPath: join(dir, 'model', 'classifier.manifest.json'),
    })
  ).id;
  datasetId = (await ws.jobs.wait(startImport(ws, { source: join(dir, 'data', 'benchmark.csv') }).id)).result!
    .datasetId as number;
  markedOf = (imageId) => {
    const source = ws.project.images.detail(imageId)!.source;
    return truth.images.find((e) => source.endsWith(e.image))!.shortcut;
  };
}, 900_000);
afterAll(() => ws?.shutdown());

describe('strategies of a Clever Hans model', () => {
  it('never mixes the marked images with the others, k by the eigengap', async () => {
    const job = await ws.jobs.wait(
      startStrategies(ws, { modelId, datasetId, classIndex: SHORTCUT_CLASS, method: 'gradcam', images: 6000 }).id,
    );
    expect(job.error).toBeNull();
    const report = strategiesResult(ws, { modelId, datasetId, classIndex: SHORTCUT_CLASS, method: 'gradcam' })!;
    expect(report.images).toBe(50);
    const marked = report.clusters.flatMap((c) => c.members).filter(markedOf).length;
    expect(marked).toBeGreaterThan(15);
    expect(marked).toBeLessThan(35);
    for (const cluster of report.clusters) {
      const share = cluster.members.filter(markedOf).length / cluster.size;
      expect(share === 0 || share === 1).toBe(true);
    }
  }, 600_000);

  it('ranks a cluster of marked images as the most unusual, its maps on the corner', () => {
    const report = strategiesResult(ws, { modelId, datasetId, classIndex: SHORTCUT_CLASS, method: 'gradcam' })!;
    const first = report.clusters[0]!;
    expect(first.members.every(markedOf)).toBe(true);
    const [h, w] = report.mapShape;
    const peak = first.meanMap.indexOf(Math.max(...first.meanMap));
    expect(Math.floor(peak / w)).toBeLessThan(h / 4);
    expect(peak % w).toBeLessThan(w / 4);
    // The model predicts the class for some marked images and for no unmarked one.
    const unmarked = report.clusters.filter((c) => !c.members.some(markedOf));
    expect(unmarked.length).toBeGreaterThan(0);
    for (const c of unmarked) expect(c.predictedAsClass).toBe(0);
  });
});
