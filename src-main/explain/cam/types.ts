/** What the CAM engine (engine.ts) takes and gives: requests, results, hooks, the session factory and probe store. */
import type * as ort from 'onnxruntime-node';
import type { ProbeResult } from '../../models/onnx/probe.ts';
import type { LayerInfo } from '../../models/gradient/layers.ts';
import type { LayerClusters } from '../layers/clusters.ts';
import type { CamMethod } from './maps.ts';

/** Where a model's probe is kept between runs (keyed by the caller: the model's hash and input size). */
export interface ProbeStore {
  read(): ProbeResult | undefined;
  write(probe: ProbeResult): void;
}

export type SessionFactory = (bytes: Uint8Array) => Promise<ort.InferenceSession>;

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

export interface LayerwiseResult {
  target: number;
  logits: Float32Array;
  layers: { layer: LayerInfo; clusters: LayerClusters }[];
}
