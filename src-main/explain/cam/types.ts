/** What the CAM engine (engine.ts) takes and gives: requests, results, hooks, the session factory and probe store. */
import type * as ort from 'onnxruntime-node';
import type { ProbeResult, ShapeTable } from '../../models/onnx/probe.ts';
import type { OnnxModel } from '../../models/onnx/model.ts';
import type { LayerInfo } from '../../models/gradient/layers.ts';
import type { CamMethod, Smoothing } from './maps.ts';
import type { LayerLayouts } from '../../../src-shared/schemas/project.ts';

/** Where a model's probe is kept between runs (keyed by the caller: the model's hash and input size). */
export interface ProbeStore {
  read(): ProbeResult | undefined;
  write(probe: ProbeResult): void;
}

/** What a CAM engine is told about its model beyond the bytes: names, cached probe, probe threads, layouts. */
export interface EngineOptions {
  input?: string;
  output?: string;
  outputKind?: 'logits' | 'probabilities';
  probes?: ProbeStore;
  /** Threads of the shape probe (a ViT-B/16's takes 6 s on one thread, 1.8 s on two). */
  threads?: number;
  /** The manifest's layer layouts, where the shapes would be read wrongly. */
  layouts?: LayerLayouts;
}

/**
 * Opens a session on an encoded model. `prepack: false`: leave the weights as they are instead of
 * repacking them for the matrix kernels, where that costs more than it saves (gradient graphs, whose
 * runs measured no slower without it, and one-off graphs).
 */
export type SessionFactory = (bytes: Uint8Array, options?: { prepack?: boolean }) => Promise<ort.InferenceSession>;

export interface InputSpec {
  /** Without the batch axis, in the model's layout. */
  dims: number[];
  layout: 'NCHW' | 'NHWC';
}

export interface CamRequest {
  method: CamMethod;
  layer: string;
  /** Per image: a class index, or -1 for the predicted class. */
  targets: number[];
  /** pytorch-grad-cam's aug_smooth / eigen_smooth; none by default. */
  smoothing?: Smoothing;
}

export interface CamResult {
  target: number;
  logits: Float32Array;
  layerShape: [number, number];
  map: Float32Array;
}

export interface RunHooks {
  signal?: AbortSignal;
  /** Called after every model run with the images (or, inside one image, channel batches) done so far. */
  progress?: (done: number, total: number) => void;
}

/** What the pixel attributions (pixels.ts) need of a model: scores, input gradients, Grad-CAM maps. */
export interface PixelSource {
  readonly input: InputSpec;
  readonly classes: number;
  readonly outputKind: 'logits' | 'probabilities';
  logits(data: Float32Array, count: number): Promise<Float32Array>;
  inputGradients(
    data: Float32Array,
    count: number,
    targets: number[],
    guided?: boolean,
    withBiasLayers?: boolean,
  ): Promise<InputGradients>;
  layerMaps(data: Float32Array, count: number, request: CamRequest, hooks?: RunHooks): Promise<CamResult[]>;
}

export interface InputGradients {
  /** The class each image's gradient was taken for. */
  chosen: number[];
  logits: Float32Array;
  /** d score / d input, in the input's layout. */
  gradients: Float32Array;
  /** FullGrad's layers with a bias: their [C, h, w] shape, bias and gradients (batch first). */
  biasLayers: { name: string; shape: number[]; bias: Float32Array; gradients: Float32Array }[];
}

/** One run of a gradient graph: the classes taken, the scores, and each target tensor's values and gradients. */
export interface GradientRun {
  chosen: number[];
  logits: Float32Array;
  values(name: string): Float32Array;
  gradients(name: string): Float32Array;
}

/** What the attention rollouts (rollout.ts) need of a model: its graph, shapes and gradient runs. */
export interface AttentionSource {
  readonly model: OnnxModel;
  readonly shapes: ShapeTable;
  readonly classes: number;
  gradientsOf(
    key: string,
    names: string[],
    data: Float32Array,
    count: number,
    targets: number[],
    guided?: boolean,
  ): Promise<GradientRun>;
}
