/**
 * Inference worker: owns onnxruntime sessions (session.run blocks its thread, so never on the main
 * thread). It reads the batch's pixels from the project file through its own read-only connection,
 * preprocesses them, runs the model, and sends the raw output back; the main thread stores it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { Manifest } from '../../src-shared/contract.ts';
import { toApiError } from '../../src-shared/errors.ts';
import { Project } from '../store/project.ts';
import { candidateProviders } from './providers.ts';
import { pixelsForModel, tensorSize, writeNormalised } from './preprocess.ts';
import type { WorkerReply, WorkerRequest } from './messages.ts';

const { threads } = workerData as { threads: number };
const sessions = new Map<string, { session: ort.InferenceSession; provider: string }>();
const projects = new Map<string, Project>();

async function loadSession(key: string, path: string) {
  const cached = sessions.get(key);
  if (cached) return cached;
  const errors: string[] = [];
  for (const provider of candidateProviders()) {
    try {
      const session = await ort.InferenceSession.create(path, {
        executionProviders: [provider],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      const entry = { session, provider };
      sessions.set(key, entry);
      return entry;
    } catch (error) {
      errors.push(`${provider}: ${(error as Error).message}`);
    }
  }
  throw new Error(`No execution provider could load ${path}: ${errors.join('; ')}`);
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
      const project = projectFor(request.projectPath);
      const size = tensorSize(request.manifest);
      const tensor = new Float32Array(size * request.imageIds.length);
      const pixels = await Promise.all(
        request.imageIds.map(async (imageId) => {
          const image = project.images.stored(imageId);
          if (!image) throw new Error(`image ${imageId} is not in the project`);
          return pixelsForModel(image, request.manifest);
        }),
      );
      pixels.forEach((values, index) => writeNormalised(values, request.manifest, tensor, index));
      const result = await runBatch(request.key, request.path, request.manifest, tensor, request.imageIds.length);
      return { type: 'inferred', id: request.id, ...result };
    }
    case 'infer-tensor': {
      const result = await runBatch(request.key, request.path, request.manifest, request.tensor, request.count);
      return { type: 'inferred', id: request.id, ...result };
    }
  }
}

parentPort!.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (reply) => parentPort!.postMessage(reply, reply.type === 'inferred' ? [reply.output.buffer as ArrayBuffer] : []),
    (error: unknown) => parentPort!.postMessage({ type: 'failed', id: request.id, error: toApiError(error) } satisfies WorkerReply),
  );
});
