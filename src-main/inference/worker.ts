/**
 * Inference worker: a process of its own that owns onnxruntime sessions (session.run blocks its
 * thread, and a user's model can crash or exhaust memory, so never in the main process). It reads the
 * batch's pixels from the project file through its own read-only connection, preprocesses them, runs
 * the model, and sends the raw output back; the main process stores it.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { Manifest } from '../../src-shared/contract.ts';
import { toApiError } from '../../src-shared/errors.ts';
import { Project } from '../store/project.ts';
import { candidateProviders } from './providers.ts';
import { pixelsForModel, tensorSize, writeNormalised } from './preprocess.ts';
import { CamEngine } from '../explain/cam/engine.ts';
import { imageMetrics, sanityCheck } from '../explain/metrics/run.ts';
import { GenerativeEngine, type BundleRef } from '../explain/generative/engine.ts';
import type { BatchSource, GenerativeOp, GenerativeOutput, WorkerControl, WorkerReply, WorkerRequest } from './messages.ts';
import { workerPort } from '../workers.ts';

const port = workerPort<WorkerRequest | WorkerControl, WorkerReply>();
const { threads } = port.data as { threads: number };
const sessions = new Map<string, { session: ort.InferenceSession; provider: string }>();
const projects = new Map<string, Project>();
const engines = new Map<string, Promise<CamEngine>>();
const generativeEngines = new Map<string, GenerativeEngine>();
const running = new Map<number, AbortController>();
let lastProvider = 'not loaded';

/** A session on the first execution provider that loads the model (CUDA before CPU where present). */
async function createSession(model: string | Uint8Array, label: string) {
  const errors: string[] = [];
  for (const provider of candidateProviders()) {
    try {
      const options = { executionProviders: [provider], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' } as const;
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      lastProvider = provider;
      return { session, provider };
    } catch (error) {
      errors.push(`${provider}: ${(error as Error).message}`);
    }
  }
  throw new Error(`No execution provider could load ${label}: ${errors.join('; ')}`);
}

async function loadSession(key: string, path: string) {
  const cached = sessions.get(key);
  if (cached) return cached;
  const entry = await createSession(path, path);
  sessions.set(key, entry);
  return entry;
}

function engineFor(key: string, path: string, manifest: Manifest): Promise<CamEngine> {
  let engine = engines.get(key);
  if (!engine) {
    const { channels, height, width, layout } = manifest.input;
    const dims = layout === 'NCHW' ? [channels, height, width] : [height, width, channels];
    engine = CamEngine.create(readFileSync(path), { dims, layout }, async (bytes) => (await createSession(bytes, path)).session, {
      input: manifest.input.name,
      output: manifest.output.name,
      outputKind: manifest.output.kind,
    });
    engine.catch(() => engines.delete(key));
    engines.set(key, engine);
  }
  return engine;
}

async function batchTensor(source: BatchSource, manifest: Manifest): Promise<{ tensor: Float32Array; count: number }> {
  if ('tensor' in source) return source;
  const project = projectFor(source.projectPath);
  const size = tensorSize(manifest);
  const tensor = new Float32Array(size * source.imageIds.length);
  const pixels = await Promise.all(
    source.imageIds.map(async (imageId) => {
      const image = project.images.stored(imageId);
      if (!image) throw new Error(`image ${imageId} is not in the project`);
      return pixelsForModel(image, manifest);
    }),
  );
  pixels.forEach((values, index) => writeNormalised(values, manifest, tensor, index));
  return { tensor, count: source.imageIds.length };
}

/** Pixel-space images ([0, 1], NCHW planes) of project images: the manifest's resizing and channels, no normalisation. */
function pixelSpace(projectPath: string, imageIds: number[], manifest: Manifest): Promise<Float32Array> {
  const raw: Manifest = { ...manifest, input: { ...manifest.input, layout: 'NCHW' }, preprocessing: { ...manifest.preprocessing, mean: [0], std: [1] } };
  return batchTensor({ projectPath, imageIds }, raw).then(({ tensor }) => tensor);
}

function generativeEngine(bundle: BundleRef): GenerativeEngine {
  let engine = generativeEngines.get(bundle.key);
  if (!engine) {
    engine = new GenerativeEngine(bundle, async (path) => (await createSession(path, path)).session);
    generativeEngines.set(bundle.key, engine);
  }
  return engine;
}

async function generative(request: Extract<WorkerRequest, { type: 'generative' }>): Promise<GenerativeOutput[GenerativeOp['kind']]> {
  const engine = generativeEngine(request.bundle);
  const pixels = await pixelSpace(request.projectPath, request.imageIds, request.manifest);
  const count = request.imageIds.length;
  const { op } = request;
  switch (op.kind) {
    case 'decompose':
      return engine.decompose(pixels, count, op.targets);
    case 'components':
      return engine.components(pixels, count, op.targets);
    case 'index':
      return engine.index(pixels, count);
    case 'paths': {
      const requests = await Promise.all(
        op.requests.map(async ({ referenceImageId, ...rest }) =>
          referenceImageId === undefined ? rest : { ...rest, reference: await pixelSpace(request.projectPath, [referenceImageId], request.manifest) },
        ),
      );
      return engine.paths(pixels, count, requests);
    }
  }
}

function projectFor(path: string): Project {
  let project = projects.get(path);
  if (!project) {
    project = Project.open(path, { readonly: true });
    projects.set(path, project);
  }
  return project;
}

function describe(session: ort.InferenceSession) {
  const shapeOf = (meta: ort.InferenceSession.ValueMetadata) => (meta.isTensor ? meta.shape.map((d) => (typeof d === 'number' ? d : -1)) : []);
  return {
    inputs: session.inputMetadata.map((meta) => ({ name: meta.name, shape: shapeOf(meta), type: meta.isTensor ? meta.type : 'non-tensor' })),
    outputs: session.outputMetadata.map((meta) => ({ name: meta.name, shape: shapeOf(meta), type: meta.isTensor ? meta.type : 'non-tensor' })),
  };
}

async function runBatch(key: string, path: string, manifest: Manifest, tensor: Float32Array, count: number) {
  const { session, provider } = await loadSession(key, path);
  const { channels, height, width, layout } = manifest.input;
  const dims = layout === 'NCHW' ? [count, channels, height, width] : [count, height, width, channels];
  const inputName = manifest.input.name ?? session.inputNames[0]!;
  const outputName = manifest.output.name ?? session.outputNames[0]!;
  const outputs = await session.run({ [inputName]: new ort.Tensor('float32', tensor, dims) }, [outputName]);
  const output = outputs[outputName]!;
  const data = output.data as Float32Array;
  const copy = new Float32Array(data);
  output.dispose?.();
  return { output: copy, dims: output.dims as number[], provider };
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  switch (request.type) {
    case 'inspect': {
      const { session, provider } = await loadSession(request.key, request.path);
      return { type: 'inspected', id: request.id, provider, ...describe(session) };
    }
    case 'infer-images': {
      const { tensor, count } = await batchTensor(request, request.manifest);
      const result = await runBatch(request.key, request.path, request.manifest, tensor, count);
      return { type: 'inferred', id: request.id, ...result };
    }
    case 'infer-tensor': {
      const result = await runBatch(request.key, request.path, request.manifest, request.tensor, request.count);
      return { type: 'inferred', id: request.id, ...result };
    }
    case 'cam-layers': {
      const engine = await engineFor(request.key, request.path, request.manifest);
      return { type: 'cam-layers', id: request.id, layers: engine.layers() };
    }
    case 'layerwise': {
      const engine = await engineFor(request.key, request.path, request.manifest);
      const { tensor } = await batchTensor(request.source, request.manifest);
      const result = await engine.layerwise(tensor, request.target);
      return { type: 'layerwise', id: request.id, result };
    }
    case 'metrics': {
      const engine = await engineFor(request.key, request.path, request.manifest);
      const { tensor, count } = await batchTensor(request.source, request.manifest);
      const size = tensorSize(request.manifest);
      const baseline = new Float32Array(size);
      writeNormalised(new Uint8Array(size), request.manifest, baseline, 0); // the black image
      const controller = new AbortController();
      running.set(request.id, controller);
      try {
        const results = [];
        for (let i = 0; i < count && !controller.signal.aborted; i++) {
          results.push(await imageMetrics(engine, tensor.subarray(i * size, (i + 1) * size), baseline, request.request, request.steps, { signal: controller.signal }));
          if (request.progress) port.post({ type: 'progress', id: request.id, done: i + 1, total: count });
        }
        return { type: 'metrics', id: request.id, results };
      } finally {
        running.delete(request.id);
      }
    }
    case 'sanity': {
      const engine = await engineFor(request.key, request.path, request.manifest);
      const { tensor } = await batchTensor(request.source, request.manifest);
      const { original, steps, randomised } = await sanityCheck(engine, tensor.subarray(0, tensorSize(request.manifest)), request.request, {
        progress: (done, total) => request.progress && port.post({ type: 'progress', id: request.id, done, total }),
      }, request.fullOnly ?? false);
      return { type: 'sanity', id: request.id, original, steps, randomised };
    }
    case 'generative':
      return { type: 'generative', id: request.id, output: await generative(request) };
    case 'cam': {
      const engine = await engineFor(request.key, request.path, request.manifest);
      const { tensor, count } = await batchTensor(request.source, request.manifest);
      const controller = new AbortController();
      running.set(request.id, controller);
      try {
        const results = await engine.explain(tensor, count, request.request, {
          signal: controller.signal,
          progress: (done, total) => request.progress && port.post({ type: 'progress', id: request.id, done, total }),
        });
        return { type: 'cam', id: request.id, results, provider: lastProvider };
      } finally {
        running.delete(request.id);
      }
    }
  }
}

port.onMessage((request) => {
  if (request.type === 'cancel') {
    running.get(request.id)?.abort();
    return;
  }
  handle(request).then(
    (reply) => port.post(reply, transferables(reply)),
    (error: unknown) => port.post({ type: 'failed', id: request.id, error: describeFailure(error, request) }),
  );
});

/** onnxruntime's refusal to allocate becomes `out_of_memory` naming the model; other errors keep their shape. */
function describeFailure(error: unknown, request: WorkerRequest) {
  const shape = toApiError(error);
  const allocation = /Failed to allocate memory for requested buffer of size (\d+)/.exec(shape.message);
  if (!allocation) return shape;
  const what = 'path' in request ? `the model ${request.path}` : 'the explainer bundle';
  const gib = (Number(allocation[1]) / 2 ** 30).toFixed(1);
  return { code: 'out_of_memory' as const, message: `Running ${what} asked for a ${gib} GiB buffer, more memory than this machine could give; nothing was stored. Try a smaller batch or input size.` };
}

function transferables(reply: WorkerReply): ArrayBuffer[] {
  if (reply.type === 'inferred') return [reply.output.buffer as ArrayBuffer];
  if (reply.type === 'cam') return reply.results.flatMap((r) => [r.map.buffer as ArrayBuffer, r.logits.buffer as ArrayBuffer]);
  return [];
}
