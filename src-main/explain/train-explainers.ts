/**
 * "Train explainers" (issue 18, point 3): DXAI, CAE and InfoDisent for a registered model on one of the
 * project's datasets, by the Python toolkit (`python3 -m training explainers`, training/explainers.py)
 * as a cancellable job. The job writes the dataset's images and labels as a training set the toolkit
 * reads (files by path; images stored as pixels into one raw file), runs the toolkit with progress read
 * from its `@xaiws {json}` lines, and when it is done registers the model again at the bundle's copy of
 * the classifier, so that the model's views find the bundle beside it. The bundle folder sits beside the
 * project file (`<project>.explainers/<model>-<hash>/`); a cancelled or killed run resumes there from
 * the toolkit's checkpoints when it is started again.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Job, ParsedRequest, Result } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import type { Context } from '../runtime/context.ts';
import type { JobContext } from '../runtime/jobs.ts';
import type { Project } from '../store/project.ts';
import { verifiedModel } from '../models/identity.ts';
import { registerModel } from '../models/register.ts';
import { MiB, readBoundedSync } from '../io/files.ts';

type Request = ParsedRequest<'explainers.train'>;

/** The interpreter: XAIWS_PYTHON, else Debian's, whose packages the toolkit is tested with. */
export function pythonPath(): string {
  return process.env.XAIWS_PYTHON ?? '/usr/bin/python3';
}

const INSTALL_HINT =
  'Training the explainers needs Python 3 with PyTorch, ONNX and Pillow: on Debian or Ubuntu `sudo apt install python3-torch python3-onnx python3-pil`, elsewhere `pip install torch onnx pillow`; or point XAIWS_PYTHON at an interpreter that has them';

/** Refuses with `python_missing` (saying what to install) unless the interpreter imports the toolkit's needs. */
export function checkPython(python = pythonPath()): void {
  const probe = spawnSync(python, ['-c', 'import torch, onnx, PIL, numpy'], { encoding: 'utf8', timeout: 60_000 });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`);
    throw new ApiError('python_missing', `${python} cannot run the toolkit (${why}). ${INSTALL_HINT}`);
  }
}

/** Where a model's bundle is trained: beside the project file, named by the model and its hash. */
export function bundleFolder(project: Project, model: { name: string; fileHash: string }): string {
  const name = model.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40) || 'model';
  return join(`${project.path}.explainers`, `${name}-${model.fileHash.slice(0, 12)}`);
}

/**
 * training-set.json: every image of the dataset with its class name and split. Images with a file are
 * named by path (relative to the folder when they lie under it); images stored as pixels go into
 * pixels.u8, one after another, HWC as stored.
 */
export function writeTrainingSet(project: Project, datasetId: number, folder: string): { images: number } {
  const { ids, names } = project.images.classNames(datasetId);
  const entries: unknown[] = [];
  let raw: number | null = null;
  let offset = 0;
  try {
    ids.forEach((imageId, index) => {
      const className = names[index];
      if (!className) return;
      const image = project.images.stored(imageId);
      if (!image) return;
      const split = project.images.detail(imageId)?.split ?? null;
      if (image.filePath) {
        entries.push({ path: relative(folder, image.filePath), label: className, split });
      } else if (image.pixels) {
        raw ??= openSync(join(folder, 'pixels.u8'), 'w');
        writeSync(raw, image.pixels);
        entries.push({
          pixels: { file: 'pixels.u8', offset, width: image.width, height: image.height, channels: image.channels },
          label: className,
          split,
        });
        offset += image.pixels.length;
      }
    });
  } finally {
    if (raw !== null) closeSync(raw);
  }
  if (entries.length === 0)
    throw new ApiError('invalid_request', 'The dataset has no labelled images: the explainers learn from class labels');
  writeFileSync(join(folder, 'training-set.json'), JSON.stringify({ format: 'xaiws.training-set/1', images: entries }));
  return { images: entries.length };
}

interface ToolkitEvent {
  event: string;
  [key: string]: unknown;
}

/** Job progress from one toolkit event: the stage says what runs, with losses and the time left. */
export function describeEvent(event: ToolkitEvent): { stage: string; done: number; total: number } | null {
  if (event.event === 'stage') return { stage: `${event.stage as string}`, done: 0, total: 0 };
  if (event.event === 'loading')
    return { stage: 'reading images', done: event.done as number, total: event.total as number };
  if (event.event === 'progress') {
    const losses = Object.entries((event.losses as Record<string, number>) ?? {})
      .slice(0, 3)
      .map(([name, value]) => `${name} ${value.toFixed(3)}`)
      .join(', ');
    const eta = typeof event.eta === 'number' ? `, about ${formatSeconds(event.eta)} left` : '';
    return {
      stage: `${event.role as string}: ${losses}${eta}`,
      done: event.step as number,
      total: event.steps as number,
    };
  }
  return null;
}

function formatSeconds(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Runs the toolkit; resolves with its last events, rejects with its last words. Abort stops it. */
export function runToolkit(
  args: string[],
  cwd: string,
  signal: AbortSignal,
  onEvent: (event: ToolkitEvent) => void,
): Promise<ToolkitEvent[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonPath(), ['-m', 'training', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const events: ToolkitEvent[] = [];
    let tail = '';
    let pending = '';
    const stop = () => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    };
    signal.addEventListener('abort', stop, { once: true });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('@xaiws ')) continue;
        try {
          const event = JSON.parse(line.slice(7)) as ToolkitEvent;
          events.push(event);
          onEvent(event);
        } catch {
          // a line cut by a kill: the next run starts from the checkpoint anyway
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-4000);
    });
    child.on('error', (error) => reject(new ApiError('python_missing', `${error.message}. ${INSTALL_HINT}`)));
    child.on('close', (code) => {
      signal.removeEventListener('abort', stop);
      if (signal.aborted) return reject(new ApiError('cancelled', 'Training was cancelled; starting it again resumes'));
      if (code === 0) return resolve(events);
      const said = [...events].reverse().find((e) => e.event === 'error')?.message as string | undefined;
      const last = said ?? tail.trim().split('\n').slice(-3).join(' ');
      reject(new ApiError('training_failed', `The explainer toolkit stopped (exit ${code}): ${last}`));
    });
  });
}

export function startTraining(ctx: Context, request: Request): Job {
  const model = ctx.model(request.modelId);
  const dataset = ctx.project.datasets.list().find((d) => d.id === request.datasetId);
  if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${request.datasetId}`);
  checkPython();
  const title = `Train explainers: ${model.name} on ${dataset.name}`;
  return ctx.jobs.start('training', title, request, (job) => runTraining(ctx, request, job));
}

export const trainExplainers = (ctx: Context, request: Request): Result<'explainers.train'> => ({
  jobId: startTraining(ctx, request).id,
});

async function runTraining(ctx: Context, request: Request, job: JobContext) {
  const registeredModel = ctx.model(request.modelId);
  const model = { ...(await verifiedModel(registeredModel)), name: registeredModel.name };
  const folder = bundleFolder(ctx.project, { name: model.name, fileHash: model.key });
  mkdirSync(folder, { recursive: true });
  job.report('writing the training set', 0, 0);
  const { images } = writeTrainingSet(ctx.project, request.datasetId, folder);
  const manifestPath = join(folder, 'input.manifest.json');
  writeFileSync(manifestPath, JSON.stringify(model.manifest, null, 2));
  const args = ['explainers', '--model', model.path, '--manifest', manifestPath];
  args.push('--data', join(folder, 'training-set.json'), '--out', folder, '--roles', request.roles.join(','));
  if (request.steps) args.push('--steps', String(request.steps));
  if (request.epochs) args.push('--epochs', String(request.epochs));
  const toolkitRoot = dirname(ctx.options.resourcesDir);
  const events = await runToolkit(args, toolkitRoot, job.signal, (event) => {
    const progress = describeEvent(event);
    if (progress) job.report(progress.stage, progress.done, progress.total);
  });
  job.report('registering the bundle', 0, 0);
  // The same model (same hash, same manifest) now at the bundle's copy: its views find the bundle.
  const registered = await registerModel(ctx.project, ctx.pool, join(folder, 'classifier.onnx'), manifestPath);
  const done = events.find((e) => e.event === 'done');
  return { result: { bundle: folder, images, modelId: registered.id, quality: done?.quality ?? null } };
}

/** The latest live previews of a model's training (training/preview.py), newest state of each role. */
export function explainerPreview(
  ctx: Context,
  { modelId }: ParsedRequest<'explainers.preview'>,
): Result<'explainers.preview'> {
  const folder = bundleFolder(ctx.project, ctx.model(modelId));
  return (['dxai', 'cae'] as const).flatMap((role) => {
    const path = join(folder, 'preview', `${role}.png`);
    if (!existsSync(path)) return [];
    return [{ role, png: readBoundedSync(path, 16 * MiB).toString('base64') }];
  });
}
