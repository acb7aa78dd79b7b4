/**
 * The request -> reply maps of the five workers. A method's name is the same from the contract to the
 * worker (decomposition, counterfactual, components for the generative explainers).
 */
import type { Manifest } from '../../src-shared/contract.ts';
import type { PackContents } from '../../src-shared/schemas/labels.ts';
import type { CamRequest, CamResult } from '../explain/cam/engine.ts';
import type { LayerwiseResult } from '../explain/layers/layerwise.ts';
import type { MetricsResult, SanityStep } from '../explain/metrics/run.ts';
import type {
  BundleRef,
  ComponentsResult,
  CounterfactualResult,
  CounterfactualTarget,
  DecompositionResult,
  IndexResult,
} from '../explain/generative/types.ts';
import type { LayerInfo } from '../models/gradient/layers.ts';
import type { MapData, MapInputs } from '../explain/map/build.ts';
import type { EmbeddedBatch } from '../explain/map/embedding.ts';
import type { SpectralOptions, SpectralResult } from '../explain/map/spectral.ts';
import type { LayerPassResult } from '../explain/map/layer-pass.ts';
import type { ImportRequest, ImportResult } from '../datasets/read/importer.ts';
import type { Clustering } from '../aggregate/embedding/cluster.ts';
import type { Displayable, DisplaySource, RawImage } from '../imaging/display.ts';
import type { MapGrid } from '../imaging/overlays.ts';
import type { ModelImage } from '../inference/runtime/preprocess.ts';

export interface TensorInfo {
  name: string;
  shape: number[];
  type: string;
}

/** A model as a worker loads it: its session is cached under `key` (the file's hash). */
export interface ModelRef {
  key: string;
  path: string;
  manifest: Manifest;
}

/** Where a batch's pixels come from: a ready tensor, or images of a project file. */
export type BatchSource = { tensor: Float32Array; count: number } | { projectPath: string; imageIds: number[] };

export interface MetricRequest {
  method: CamRequest['method'];
  layer: string;
  target: number;
  smoothing?: CamRequest['smoothing'];
}

/** Project images given to a generative explainer (the manifest says how to size them). */
export interface GenerativeBatch {
  bundle: BundleRef;
  manifest: Manifest;
  projectPath: string;
  imageIds: number[];
}

export interface Inferred {
  output: Float32Array;
  dims: number[];
  provider: string;
}

export type InferenceProtocol = {
  inspect: {
    request: { key: string; path: string };
    reply: { provider: string; inputs: TensorInfo[]; outputs: TensorInfo[] };
  };
  inferImages: { request: { model: ModelRef; projectPath: string; imageIds: number[] }; reply: Inferred };
  inferTensor: { request: { model: ModelRef; tensor: Float32Array; count: number }; reply: Inferred };
  /** `prepare`: then build the recommended layer's Grad-CAM session, which the image panel asks for next. */
  camLayers: { request: { model: ModelRef; prepare?: boolean }; reply: LayerInfo[] };
  /** Reads and measures a model ahead of its first explanation (the CLI, while its images decode). */
  camLoad: { request: { model: ModelRef }; reply: { layers: number } };
  cam: {
    request: { model: ModelRef; source: BatchSource; request: CamRequest };
    reply: { results: CamResult[]; provider: string };
  };
  layerwise: { request: { model: ModelRef; source: BatchSource; target: number }; reply: LayerwiseResult };
  metrics: {
    request: { model: ModelRef; source: BatchSource; request: MetricRequest; steps: number };
    reply: MetricsResult[];
  };
  /** `fullOnly`: just the fully randomised model's map. */
  sanity: {
    request: { model: ModelRef; source: BatchSource; request: MetricRequest; fullOnly: boolean };
    reply: { original: CamResult; steps: SanityStep[]; randomised: CamResult | null };
  };
  decomposition: { request: GenerativeBatch & { targets: number[] }; reply: DecompositionResult[] };
  counterfactual: {
    request: GenerativeBatch & {
      requests: (Omit<CounterfactualTarget, 'reference'> & { referenceImageId?: number })[];
    };
    reply: CounterfactualResult[];
  };
  components: { request: GenerativeBatch & { targets: number[] }; reply: ComponentsResult[] };
  index: { request: GenerativeBatch; reply: IndexResult };
  /** Embeddings at `layer` (null: the penultimate) and class probabilities of project images. */
  embed: {
    request: { model: ModelRef; projectPath: string; imageIds: number[]; layer: string | null };
    reply: EmbeddedBatch & { layer: string };
  };
  /** A dataset map from embeddings, or `previous` extended by `inputs` (explain/map/build.ts). */
  datasetMap: { request: { inputs: MapInputs; previous?: MapData }; reply: MapData };
  /** TCAV's run: activations and pooled class-score gradients at several layers (explain/map/layer-pass.ts). */
  layerPass: {
    request: { model: ModelRef; source: BatchSource; layers: string[]; targets: number[] };
    reply: LayerPassResult[];
  };
  /** Spectral clusters of [n, dims] rows (SpRAy's maps; explain/map/spectral.ts). */
  spectral: { request: { rows: Float32Array; dims: number; options: SpectralOptions }; reply: SpectralResult };
};

export type ImportProtocol = {
  import: { request: { projectPath: string; request: ImportRequest }; reply: ImportResult };
};

export type EmbedderJob = { kind: 'words'; cacheDir: string } | { kind: 'sentence'; model: string; tokenizer: string };

export interface Embedded {
  vectors: Float32Array[];
  dimensions: number;
  known: boolean[];
  clustering: Clustering | null;
}

export type EmbedProtocol = {
  /** Embeds `texts`; with `cluster`, the first `cluster` of them (the terms) are also clustered. */
  embed: { request: { embedder: EmbedderJob; texts: string[]; cluster?: number }; reply: Embedded };
};

export type PackProtocol = {
  read: { request: { path: string }; reply: PackContents };
};

/** Images decoded and drawn for people to see (workers/image.ts). Encoded images cross as bytes. */
export type ImageProtocol = {
  display: { request: DisplaySource; reply: Displayable };
  /** Deep Reveal: only the pixels where the map is in its top `percent` %, as PNG. */
  masked: { request: { bytes: Uint8Array; map: MapGrid; percent: number }; reply: Uint8Array };
  /** The map over the image in jet colours, `size` x `size`, as PNG (no map: the image alone). */
  overlay: { request: { bytes: Uint8Array; map: MapGrid | undefined; size: number }; reply: Uint8Array };
  /** An image at the model's input size and channels, 8-bit interleaved (inference/runtime/preprocess.ts). */
  forModel: { request: { image: ModelImage; manifest: Manifest }; reply: Uint8Array };
  /** A file decoded to raw pixels, at most `maxBytes` read (an explainer bundle's prototype atlas). */
  raw: { request: { path: string; maxBytes: number }; reply: RawImage };
};
