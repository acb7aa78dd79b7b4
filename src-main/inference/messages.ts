import type { Manifest } from '../../src-shared/contract.ts';
import type { ApiErrorShape } from '../../src-shared/errors.ts';
import type { CamRequest, CamResult, LayerwiseResult } from '../explain/cam/engine.ts';
import type { LayerInfo } from '../models/onnx/layers.ts';
import type { MetricsResult, SanityStep } from '../explain/metrics/run.ts';
import type { BundleRef, ComponentsResult, DecompositionResult, IndexResult, PathResult } from '../explain/generative/engine.ts';

export interface TensorInfo {
  name: string;
  shape: number[];
  type: string;
}

/** Where a batch's pixels come from: a ready tensor, or images of a project file. */
export type BatchSource = { tensor: Float32Array; count: number } | { projectPath: string; imageIds: number[] };

/** Every request carries its id and whether its caller listens to progress (else none is sent). */
export type WorkerRequest = { id: number; progress?: boolean } & WorkerCall;

export type WorkerCall =
  | { type: 'inspect'; id: number; key: string; path: string }
  | { type: 'infer-images'; id: number; key: string; path: string; manifest: Manifest; projectPath: string; imageIds: number[] }
  | { type: 'infer-tensor'; id: number; key: string; path: string; manifest: Manifest; tensor: Float32Array; count: number }
  | { type: 'cam-layers'; id: number; key: string; path: string; manifest: Manifest }
  | { type: 'cam'; id: number; key: string; path: string; manifest: Manifest; source: BatchSource; request: CamRequest }
  | { type: 'layerwise'; id: number; key: string; path: string; manifest: Manifest; source: BatchSource; target: number }
  | { type: 'metrics'; id: number; key: string; path: string; manifest: Manifest; source: BatchSource; request: MetricRequest; steps: number }
  | { type: 'sanity'; id: number; key: string; path: string; manifest: Manifest; source: BatchSource; request: MetricRequest; fullOnly?: boolean }
  | { type: 'generative'; id: number; bundle: BundleRef; manifest: Manifest; projectPath: string; imageIds: number[]; op: GenerativeOp };

/** One generative explainer over a batch of project images (the manifest says how to size them). */
export type GenerativeOp =
  | { kind: 'decompose'; targets: number[] }
  | { kind: 'paths'; requests: { target: number; steps: number; referenceImageId?: number }[] }
  | { kind: 'components'; targets: number[] }
  | { kind: 'index' };

export type GenerativeOutput = {
  decompose: DecompositionResult[];
  paths: PathResult[];
  components: ComponentsResult[];
  index: IndexResult;
};

export interface MetricRequest {
  method: CamRequest['method'];
  layer: string;
  target: number;
}

export type WorkerControl = { type: 'cancel'; id: number };

export type WorkerReply =
  | { type: 'inspected'; id: number; provider: string; inputs: TensorInfo[]; outputs: TensorInfo[] }
  | { type: 'inferred'; id: number; output: Float32Array; dims: number[]; provider: string }
  | { type: 'cam-layers'; id: number; layers: LayerInfo[] }
  | { type: 'cam'; id: number; results: CamResult[]; provider: string }
  | { type: 'layerwise'; id: number; result: LayerwiseResult }
  | { type: 'metrics'; id: number; results: MetricsResult[] }
  | { type: 'sanity'; id: number; original: CamResult; steps: SanityStep[]; randomised: CamResult | null }
  | { type: 'generative'; id: number; output: GenerativeOutput[GenerativeOp['kind']] }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'failed'; id: number; error: ApiErrorShape };
