/**
 * The bundled demo projects. Both project files are created on first start in the data folder's
 * `demo/`; a demo is filled when it opens: its classifier registered, its images imported and then
 * classified as jobs, so the browser fills while the user watches. A demo whose first start was killed
 * half-way is completed the same way: what is missing is added when it opens.
 */
import { resolve, join } from 'node:path';
import type { DemoName, Job } from '../../src-shared/contract.ts';
import { startImport } from '../datasets/service.ts';
import { startInference } from '../inference/service.ts';
import { addModel } from '../models/service.ts';
import type { Context } from '../runtime/context.ts';

export interface Demo {
  /** The project file's name under `<dataDir>/demo/`. */
  file: string;
  name: string;
  /** Paths under the resources folder. */
  model: string;
  dataset: string;
  datasetName: string;
}

export const DEMOS: Record<DemoName, Demo> = {
  'fashion-mnist': {
    file: 'fashion-mnist-demo.xaiws',
    name: 'Fashion-MNIST demo',
    model: 'models/fashion-mnist-cnn/classifier.onnx',
    dataset: 'datasets/fashion-mnist',
    datasetName: 'Fashion-MNIST test set',
  },
  'colour-benchmark': {
    file: 'colour-benchmark-demo.xaiws',
    name: 'Colour benchmark demo',
    model: 'models/colour-benchmark-resnet/classifier.onnx',
    dataset: 'datasets/colour-benchmark/benchmark.csv',
    datasetName: 'Colour benchmark test set',
  },
};

export const demoPath = (dataDir: string, demo: DemoName) => join(dataDir, 'demo', DEMOS[demo].file);

/** Which demo a project file is, if it is one (the recent list opens demos by path). */
export function demoAt(dataDir: string, path: string): DemoName | null {
  const wanted = resolve(path);
  return (Object.keys(DEMOS) as DemoName[]).find((demo) => resolve(demoPath(dataDir, demo)) === wanted) ?? null;
}

/** Adds what the open demo project lacks: its model, its images (an import job), their predictions. */
export async function completeDemo(ctx: Context, demo: DemoName): Promise<void> {
  const { model: modelFile, dataset: datasetFile, datasetName } = DEMOS[demo];
  const project = ctx.project;
  const modelPath = resolve(ctx.options.resourcesDir, modelFile);
  const model = project.models.list().find((m) => m.path === modelPath) ?? (await addModel(ctx, { path: modelPath }));
  const source = resolve(ctx.options.resourcesDir, datasetFile);
  const running = (kind: Job['kind']) =>
    ctx.jobs.list().find((job) => job.kind === kind && (job.status === 'running' || job.status === 'queued'));
  const imported = ctx.jobs
    .list()
    .some(
      (job) =>
        job.kind === 'import' &&
        job.status === 'done' &&
        (project.jobs.params(job.id) as { source?: string } | undefined)?.source === source,
    );
  const importing = imported ? undefined : (running('import') ?? startImport(ctx, { source, name: datasetName }));
  const classify = () => {
    const dataset =
      ctx.hasProject && ctx.project === project ? project.datasets.list().find((d) => d.source === source) : undefined;
    if (!dataset || running('inference') || project.predictions.count(model.id, dataset.id) >= dataset.images) return;
    startInference(ctx, { modelId: model.id, datasetId: dataset.id });
  };
  if (importing) void ctx.jobs.wait(importing.id).then((job) => job.status === 'done' && classify());
  else classify();
}
