/**
 * Explanations checked against the truth (src-main/explain/benchmark.ts) on the colour benchmark's
 * images, with a model whose answer is known by construction: a linear classifier whose weights are large
 * only on the shortcut's corner. Its saliency map (the gradient) is that corner on every image, so every
 * marked image's map points at the mark with most of its mass there, and no map points at the object
 * (objects keep clear of the corner). A model without a bundle gets no DXAI scores; a truth file that
 * names masks outside its folder is refused. Through the API: the truth file is found beside the imported
 * CSV, the checks run as a job whose report the project keeps, and a stopped run keeps the last report.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter } from '../../src-main/api/router.ts';
import { BenchmarkReport, type MethodName, type Request, type Result } from '../../src-shared/contract.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { runBenchmark } from '../../src-main/explain/benchmark.ts';
import { addModel } from '../../src-main/models/service.ts';
import { Workstation } from '../../src-main/workstation.ts';
import { tempDir } from '../support/fixtures.ts';
import { ROOT } from '../support/host.ts';

let ws: Workstation;
let dir: string;
let modelId: number;
let dispatch: ReturnType<typeof createRouter>;

async function call<M extends MethodName>(method: M, request: Request<M>): Promise<Result<M>> {
  const envelope = await dispatch(method, request);
  if (!envelope.ok) throw Object.assign(new Error(envelope.error.message), { code: envelope.error.code });
  return envelope.value as Result<M>;
}

beforeAll(async () => {
  dir = tempDir();
  execFileSync('/usr/bin/python3', ['-m', 'training', 'benchmark', '--out', dir, '--train', '8', '--test', '32'], {
    cwd: ROOT,
  });
  const script = `
import json, sys, torch
from training import benchmark
top, left, bottom, right = benchmark.SHORTCUT_BOX
weight = torch.full((len(benchmark.CLASSES), 3, 64, 64), 0.001)
for c in range(len(benchmark.CLASSES)):
    weight[c, :, top:bottom, left:right] = 1.0 + c
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, len(benchmark.CLASSES)))
with torch.no_grad():
    model[1].weight.copy_(weight.flatten(1))
    model[1].bias.zero_()
torch.onnx.export(model, torch.zeros(1, 3, 64, 64), sys.argv[1], opset_version=13, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
print(json.dumps([c[0] for c in benchmark.CLASSES]))`;
  const model = join(dir, 'corner.onnx');
  const classes = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, model], { cwd: ROOT, encoding: 'utf8' }));
  writeFileSync(
    join(dir, 'corner.manifest.json'),
    JSON.stringify({
      format: 'xaiws.classifier/1',
      name: 'Corner model',
      input: { channels: 3, height: 64, width: 64 },
      output: { kind: 'logits' },
      preprocessing: { scale: 255, mean: [0], std: [1], resize: 'stretch' },
      classes,
    }),
  );
  ws = new Workstation({ dataDir: dir, resourcesDir: join(ROOT, 'resources'), transport: 'cli' });
  await ws.createProject(join(dir, 'bench.xaiws'));
  modelId = (await addModel(ws, { path: model, manifestPath: join(dir, 'corner.manifest.json') })).id;
  await ws.jobs.wait(startImport(ws, { source: join(dir, 'benchmark.csv') }).id);
  dispatch = createRouter(ws);
});
afterAll(() => ws.shutdown());

describe('the benchmark against the truth', () => {
  it('finds a model that looks only at the corner: its maps point at the mark, never at the object', async () => {
    const report = await runBenchmark(ws, { modelId, truth: join(dir, 'benchmark.json'), methods: ['saliency'] });
    expect(report.images).toBe(32);
    const saliency = report.methods.saliency as {
      pointingGame: number;
      relevanceMass: number;
      perClass: Record<string, { images: number }>;
      shortcut: { markedImages: number; pointsAtMark: number; meanMassOnMark: number };
    };
    const truth = JSON.parse(readFileSync(join(dir, 'benchmark.json'), 'utf8'));
    const marked = truth.images.filter((e: { split: string; shortcut: boolean }) => e.split === 'test' && e.shortcut);
    expect(saliency.shortcut.markedImages).toBe(marked.length);
    expect(marked.length).toBeGreaterThan(5);
    expect(saliency.shortcut.pointsAtMark).toBe(1);
    // The weights on the 4 x 4 mark are 1000 times those elsewhere: nearly all the mass is there.
    expect(saliency.shortcut.meanMassOnMark).toBeGreaterThan(0.8);
    expect(saliency.pointingGame).toBe(0);
    expect(saliency.relevanceMass).toBeLessThan(0.05);
    expect(Object.values(saliency.perClass).map((c) => c.images)).toEqual(Array(8).fill(4));
    expect(report.dxai).toBeNull();
  });

  it('refuses a truth file whose masks lie outside its folder', async () => {
    const truth = JSON.parse(readFileSync(join(dir, 'benchmark.json'), 'utf8'));
    for (const entry of truth.images) entry.mask = `../../etc/${entry.mask}`;
    const hostile = join(dir, 'hostile.json');
    writeFileSync(hostile, JSON.stringify(truth));
    await expect(runBenchmark(ws, { modelId, truth: hostile, methods: ['saliency'] })).rejects.toThrow(
      /lies outside the benchmark's folder/,
    );
    writeFileSync(hostile, '{"format": "something else"}');
    await expect(runBenchmark(ws, { modelId, truth: hostile })).rejects.toThrow(/not a benchmark description/);
  });
});

describe('the checks in the app', () => {
  it('finds the truth beside the imported CSV, runs the checks as a job and keeps the report', async () => {
    const truths = await call('benchmark.truths', {});
    expect(truths).toEqual([expect.objectContaining({ path: join(dir, 'benchmark.json') })]);
    const truth = truths[0]!.path;
    expect(await call('benchmark.result', { modelId, truth })).toBeNull();
    const { jobId } = await call('benchmark.run', { modelId, truth, methods: ['saliency', 'gradcam'], images: 16 });
    const job = await ws.jobs.wait(jobId);
    expect(job.error).toBeNull();
    expect(job).toMatchObject({ kind: 'benchmark', status: 'done' });
    const report = await call('benchmark.result', { modelId, truth });
    expect(BenchmarkReport.parse(report)).toBeTruthy();
    expect(report!.images).toBe(16);
    // A linear model has no spatial layer: Grad-CAM is skipped with the reason, saliency is scored.
    expect(Object.keys(report!.methods)).toEqual(['saliency']);
    expect(report!.skipped.gradcam).toMatch(/not a feature map/);
    expect(report!.methods.saliency!.shortcut.pointsAtMark).toBe(1);
    expect(report!.truth).toBe(truth);
  });

  it('a stopped run ends cancelled and the last finished report stays', async () => {
    const truth = join(dir, 'benchmark.json');
    const before = await call('benchmark.result', { modelId, truth });
    expect(before).not.toBeNull();
    const { jobId } = await call('benchmark.run', { modelId, truth, methods: ['integratedgradients'], images: 32 });
    await call('jobs.cancel', { jobId });
    expect((await ws.jobs.wait(jobId)).status).toBe('cancelled');
    expect(await call('benchmark.result', { modelId, truth })).toEqual(before);
  });

  it('refuses a bad truth file before a job starts, naming the file', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '[1, 2');
    await expect(call('benchmark.run', { modelId, truth: bad })).rejects.toThrow(/bad\.json is not a benchmark/);
    expect(ws.jobs.list().filter((job) => job.kind === 'benchmark')).toHaveLength(2);
  });
});
