/**
 * Inference worker: a process of its own that owns onnxruntime sessions (session.run blocks its
 * thread, and a user's model can crash or exhaust memory, so never in the main process). It reads the
 * batch's pixels from the project file through its own read-only connection, preprocesses them, runs
 * the model or an explainer, and sends the raw output back; the main process stores it.
 */
import { layerwise } from '../explain/layers/layerwise.ts';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Manifest } from '../../src-shared/contract.ts';
import { ApiError, toApiError, type ApiErrorShape } from '../../src-shared/errors.ts';
import { Project } from '../store/project.ts';
import { candidateProviders } from '../inference/runtime/providers.ts';
import { pixelsForModel } from '../inference/runtime/preprocess.ts';
import { tensorSize, writeNormalised } from '../inference/runtime/tensor.ts';
import { CamEngine } from '../explain/cam/engine.ts';
import { adviseLayers, type AdviceStore } from '../explain/cam/layer-advice.ts';
import { parseProbe, serializeProbe } from '../models/onnx/probe.ts';
import { OnnxModel, externalLocations } from '../models/onnx/model.ts';
import { imageMetrics, sanityCheck } from '../explain/metrics/run.ts';
import { GenerativeEngine } from '../explain/generative/engine.ts';
import type { BundleRef } from '../explain/generative/types.ts';
import type { BatchSource, GenerativeBatch, InferenceProtocol, ModelRef } from './protocols.ts';
import type { LayerInfo } from '../models/gradient/layers.ts';
import { serve, startData } from './serve.ts';
import { buildMap, extendMap } from '../explain/map/build.ts';
import { LayerEmbedder } from '../explain/map/embedding.ts';
import { spectralClusters } from '../explain/map/spectral.ts';
import { layerPass } from '../explain/map/layer-pass.ts';

const { threads, cacheDir } = startData<{ threads: number; cacheDir?: string }>();
const sessions = new Map<string, { session: ort.InferenceSession; provider: string }>();
const projects = new Map<string, Project>();
const engines = new Map<string, Promise<CamEngine>>();
const advice = new Map<string, Promise<LayerInfo[]>>();
const generativeEngines = new Map<string, GenerativeEngine>();
const embedders = new Map<string, LayerEmbedder>();
let lastProvider = 'not loaded';

/** A session on the first execution provider that loads the model (CUDA before CPU where present). */
async function createSession(model: string | Uint8Array, label: string, prepack = true) {
  const errors: string[] = [];
  for (const provider of candidateProviders()) {
    try {
      const options = {
        executionProviders: [provider],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        // The intra-op threads sleep between runs instead of spinning: a spinning pool in this process takes
        // the cores the app needs to store the last batch and send the next (XAIWS_ORT_SPIN=1 spins).
        extra: {
          session: {
            intra_op: { allow_spinning: process.env.XAIWS_ORT_SPIN === '1' ? '1' : '0' },
            disable_prepacking: prepack ? '0' : '1',
          },
        },
      } as const;
      const session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, options)
          : await ort.InferenceSession.create(model, options);
      lastProvider = provider;
      return { session, provider };
    } catch (error) {
      errors.push(`${provider}: ${(error as Error).message}`);
    }
  }
  throw new ApiError('model_invalid', `No execution provider could load ${label}: ${errors.join('; ')}`);
}

/**
 * The model file last read for a session, kept a while for the explanation engine, which reads the same
 * bytes and, in the app, is asked for the same model's layers right after its registration: one read
 * of a ViT-B's 346 MB instead of two.
 */
let lastRead: { key: string; bytes: Uint8Array; timer: NodeJS.Timeout } | undefined;
const KEEP_READ_MS = 60_000;

function keepRead(key: string, bytes: Uint8Array) {
  if (lastRead) clearTimeout(lastRead.timer);
  lastRead = { key, bytes, timer: setTimeout(() => (lastRead = undefined), KEEP_READ_MS).unref() };
}

function takeRead(key: string): Uint8Array | undefined {
  const kept = lastRead?.key === key ? lastRead.bytes : undefined;
  if (kept) {
    clearTimeout(lastRead!.timer);
    lastRead = undefined;
  }
  return kept;
}

async function loadSession(key: string, path: string) {
  const cached = sessions.get(key);
  if (cached) return cached;
  const bytes = readFileSync(path);
  // Weights stored beside the model are found from its path, not from its bytes.
  const external = externalLocations(OnnxModel.read(bytes, path).graph).size > 0;
  const entry = await createSession(external ? path : bytes, path);
  if (!external) keepRead(key, bytes);
  sessions.set(key, entry);
  return entry;
}

/**
 * What was learnt about a model kept in a file, so that a model seen before (another CLI call, the
 * app's next start) is not measured again: its shapes (the probe) and its zero-gradient layers. Keyed
 * by the model's hash and input size; a file that cannot be read or parsed is measured again and
 * replaced, and one that cannot be written only costs the next call a measurement.
 */
function cacheFile<T>(path: string, parse: (text: string) => T | null, serialize: (value: T) => string) {
  return {
    read: (): T | undefined => {
      try {
        return parse(readFileSync(path, 'utf8')) ?? undefined;
      } catch {
        return undefined;
      }
    },
    write: (value: T) => {
      try {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(`${path}.tmp`, serialize(value));
        renameSync(`${path}.tmp`, path);
      } catch {
        // see above
      }
    },
  };
}

const modelCache = (model: ModelRef, kind: string) => {
  const { channels, height, width } = model.manifest.input;
  return cacheDir ? join(cacheDir, 'probes', `${model.key}-${channels}x${height}x${width}${kind}.json`) : undefined;
};

function adviceFile(model: ModelRef): AdviceStore | undefined {
  // Which layers are token or channels-last maps, and so what the advice says, follows the manifest's layouts.
  const { layers } = model.manifest;
  const path = modelCache(
    model,
    layers ? `.advice-${createHash('sha256').update(JSON.stringify(layers)).digest('hex').slice(0, 12)}` : '.advice',
  );
  const parse = (text: string) => {
    const raw = JSON.parse(text) as { format?: unknown; zeroGradient?: unknown };
    const names = raw.zeroGradient;
    return raw.format === 1 && Array.isArray(names) && names.every((n) => typeof n === 'string') ? names : null;
  };
  return path ? cacheFile(path, parse, (zeroGradient) => JSON.stringify({ format: 1, zeroGradient })) : undefined;
}

/**
 * The layer picker's list with its advice, worked out once per model and layouts: the registration's
 * early request and the image panel's may overlap, and two runs of the advice would share its sessions.
 */
function adviceFor(ref: ModelRef): Promise<LayerInfo[]> {
  const key = `${ref.key}:${JSON.stringify(ref.manifest.layers ?? null)}`;
  let layers = advice.get(key);
  if (!layers) {
    layers = engineFor(ref).then((engine) => adviseLayers(engine, adviceFile(ref)));
    layers.catch(() => advice.delete(key));
    advice.set(key, layers);
  }
  return layers;
}

function engineFor(ref: ModelRef): Promise<CamEngine> {
  const { key, path, manifest } = ref;
  let engine = engines.get(key);
  if (!engine) {
    const probePath = modelCache(ref, '');
    const { channels, height, width, layout } = manifest.input;
    const dims = layout === 'NCHW' ? [channels, height, width] : [height, width, channels];
    engine = CamEngine.create(
      takeRead(key) ?? readFileSync(path),
      { dims, layout },
      async (bytes, options) => (await createSession(bytes, path, options?.prepack)).session,
      {
        input: manifest.input.name,
        output: manifest.output.name,
        outputKind: manifest.output.kind,
        probes: probePath ? cacheFile(probePath, parseProbe, serializeProbe) : undefined,
        threads,
        layouts: manifest.layers,
      },
    );
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
      if (!image) throw new ApiError('image_not_found', `Image ${imageId} is not in the project ${source.projectPath}`);
      return pixelsForModel(image, manifest);
    }),
  );
  pixels.forEach((values, index) => writeNormalised(values, manifest, tensor, index));
  return { tensor, count: source.imageIds.length };
}

/** Pixel-space images ([0, 1], NCHW planes) of project images: the manifest's resizing and channels, no normalisation. */
function pixelSpace(projectPath: string, imageIds: number[], manifest: Manifest): Promise<Float32Array> {
  const raw: Manifest = {
    ...manifest,
    input: { ...manifest.input, layout: 'NCHW' },
    preprocessing: { ...manifest.preprocessing, mean: [0], std: [1] },
  };
  return batchTensor({ projectPath, imageIds }, raw).then(({ tensor }) => tensor);
}

/** A session on one of the dataset map's small graphs (explain/map/graphs.ts). */
const mapSession = async (bytes: Uint8Array) => (await createSession(bytes, 'the dataset map', false)).session;

function generativeEngine(bundle: BundleRef): GenerativeEngine {
  let engine = generativeEngines.get(bundle.key);
  if (!engine) {
    engine = new GenerativeEngine(bundle, async (path) => (await createSession(path, path)).session);
    generativeEngines.set(bundle.key, engine);
  }
  return engine;
}

async function generative({ bundle, projectPath, imageIds, manifest }: GenerativeBatch) {
  return {
    engine: generativeEngine(bundle),
    pixels: await pixelSpace(projectPath, imageIds, manifest),
    count: imageIds.length,
  };
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
  const shapeOf = (meta: ort.InferenceSession.ValueMetadata) =>
    meta.isTensor ? meta.shape.map((d) => (typeof d === 'number' ? d : -1)) : [];
  return {
    inputs: session.inputMetadata.map((meta) => ({
      name: meta.name,
      shape: shapeOf(meta),
      type: meta.isTensor ? meta.type : 'non-tensor',
    })),
    outputs: session.outputMetadata.map((meta) => ({
      name: meta.name,
      shape: shapeOf(meta),
      type: meta.isTensor ? meta.type : 'non-tensor',
    })),
  };
}

async function runBatch({ key, path, manifest }: ModelRef, tensor: Float32Array, count: number) {
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

serve<InferenceProtocol>(
  {
    async inspect({ key, path }) {
      const { session, provider } = await loadSession(key, path);
      return { provider, ...describe(session) };
    },
    async inferImages({ model, projectPath, imageIds }) {
      const { tensor, count } = await batchTensor({ projectPath, imageIds }, model.manifest);
      return runBatch(model, tensor, count);
    },
    inferTensor: ({ model, tensor, count }) => runBatch(model, tensor, count),
    camLayers: async ({ model, prepare }) => {
      const layers = await adviceFor(model);
      const recommended = layers.find((layer) => layer.recommended && layer.gradients && !layer.zeroGradient);
      // After the reply has gone: the list shows while the session builds.
      if (prepare && recommended) setImmediate(() => void engineFor(model).then((e) => e.prepare(recommended.name)));
      return layers;
    },
    camLoad: async ({ model }) => ({ layers: (await engineFor(model)).layers().length }),
    async cam({ model, source, request }, { signal, progress }) {
      const engine = await engineFor(model);
      const { tensor, count } = await batchTensor(source, model.manifest);
      const results = await engine.explain(tensor, count, request, { signal, progress });
      return { results, provider: lastProvider };
    },
    async layerwise({ model, source, target }) {
      const engine = await engineFor(model);
      const { tensor } = await batchTensor(source, model.manifest);
      return layerwise(engine, tensor, target);
    },
    async metrics({ model, source, request, steps }, { signal, progress }) {
      const engine = await engineFor(model);
      const { tensor, count } = await batchTensor(source, model.manifest);
      const size = tensorSize(model.manifest);
      const baseline = new Float32Array(size);
      writeNormalised(new Uint8Array(size), model.manifest, baseline, 0); // the black image
      const results = [];
      for (let i = 0; i < count; i++) {
        results.push(
          await imageMetrics(engine, tensor.subarray(i * size, (i + 1) * size), baseline, request, steps, { signal }),
        );
        progress(i + 1, count);
      }
      return results;
    },
    async sanity({ model, source, request, fullOnly }, { signal, progress }) {
      const engine = await engineFor(model);
      const { tensor } = await batchTensor(source, model.manifest);
      return sanityCheck(
        engine,
        tensor.subarray(0, tensorSize(model.manifest)),
        request,
        { signal, progress },
        fullOnly,
      );
    },
    async decomposition(batch) {
      const { engine, pixels, count } = await generative(batch);
      return engine.decomposition(pixels, count, batch.targets);
    },
    async components(batch) {
      const { engine, pixels, count } = await generative(batch);
      return engine.components(pixels, count, batch.targets);
    },
    async index(batch) {
      const { engine, pixels, count } = await generative(batch);
      return engine.index(pixels, count);
    },
    async embed({ model, projectPath, imageIds, layer }) {
      const engine = await engineFor(model);
      const key = `${model.key}:${layer ?? ''}`;
      let embedder = embedders.get(key);
      if (!embedder) embedders.set(key, (embedder = LayerEmbedder.for(engine, layer)));
      const { tensor, count } = await batchTensor({ projectPath, imageIds }, model.manifest);
      return { ...(await embedder.run(tensor, count)), layer: embedder.layer };
    },
    async layerPass({ model, source, layers, targets }) {
      const engine = await engineFor(model);
      const { tensor, count } = await batchTensor(source, model.manifest);
      return layerPass(engine, tensor, count, layers, targets);
    },
    async spectral({ rows, dims, options }, { signal, progress }) {
      return spectralClusters(mapSession, rows, dims, options, {
        signal,
        progress: (d, t) => progress(d, t, 'eigenvectors'),
      });
    },
    async datasetMap({ inputs, previous }, { signal, progress }) {
      const hooks = { signal, progress: (stage: string, done: number, total: number) => progress(done, total, stage) };
      return previous ? extendMap(mapSession, previous, inputs, hooks) : buildMap(mapSession, inputs, hooks);
    },
    async counterfactual(batch) {
      const { engine, pixels, count } = await generative(batch);
      const requests = await Promise.all(
        batch.requests.map(async ({ referenceImageId, ...rest }) =>
          referenceImageId === undefined
            ? rest
            : { ...rest, reference: await pixelSpace(batch.projectPath, [referenceImageId], batch.manifest) },
        ),
      );
      return engine.counterfactual(pixels, count, requests);
    },
  },
  { describeError },
);

/** onnxruntime's refusal to allocate becomes `out_of_memory` naming the model; other errors keep their shape. */
function describeError(error: unknown, _method: string, request: unknown): ApiErrorShape {
  const shape = toApiError(error);
  const allocation = /Failed to allocate memory for requested buffer of size (\d+)/.exec(shape.message);
  const model = (request as { model?: ModelRef; path?: string }).model?.path ?? (request as { path?: string }).path;
  const what = model ? `the model ${model}` : 'the explainer bundle';
  if (!allocation) return { code: 'internal', message: `Running ${what} failed: ${shape.message}` };
  const gib = (Number(allocation[1]) / 2 ** 30).toFixed(1);
  return {
    code: 'out_of_memory',
    message: `Running ${what} asked for a ${gib} GiB buffer, more memory than this machine could give; nothing was stored. Try a smaller batch or input size.`,
  };
}
