/**
 * The one API contract. Every capability of the workstation is a method here with a zod schema for
 * its request and its result, and every push from main to renderer is an event here. Main validates
 * requests against it (src-main/api/router.ts), the preload exposes exactly these methods, and the
 * renderer and CLI use the inferred types. Adding a method means adding it here first.
 */
import { z } from 'zod';
import { AgreementReport, Annotator, Answer, AnnotatorRole, AnswerAck, HistoryEntry, LabelSourceChoice, Leaderboard, MergeReport, NextTask, SessionDetail, SessionPreview, SessionRequest, SessionState, SessionSummary, TaskView } from './labels.ts';
import { Aggregate, AggregateRequest, AggregateTable, ConceptEdit, LabelNextItem, StoredEdit } from './aggregate.ts';
import { Correctness, ImageFilter } from './images.ts';
import { ClassChoice, ClassCodeMap, Components, Counterfactual, CounterfactualRequest, Decomposition, GenerativeKind, OverlayChoice, OverlayMap, OverlaySource, Projection } from './generative.ts';

const id = z.number().int().positive();

export const ProjectSummary = z.object({
  path: z.string(),
  /** Opened read-only: this user may not change the file (nothing can be saved). */
  readOnly: z.boolean(),
  name: z.string(),
  schemaVersion: z.number().int(),
  datasets: z.number().int(),
  images: z.number().int(),
  models: z.number().int(),
});

export const RecentProject = z.object({ path: z.string(), name: z.string(), openedAt: z.string() });

export const Dataset = z.object({
  id,
  name: z.string(),
  source: z.string(),
  kind: z.enum(['folder', 'idx', 'csv']),
  images: z.number().int(),
  issues: z.number().int(),
  classes: z.array(z.string()),
  splits: z.array(z.string()),
});

export const ImportIssue = z.object({
  source: z.string(),
  code: z.string(),
  message: z.string(),
});

export const Manifest = z.object({
  format: z.literal('xaiws.classifier/1'),
  name: z.string().min(1),
  description: z.string().optional(),
  file: z.string().min(1).optional(),
  input: z.object({
    name: z.string().min(1).optional(),
    layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
    channels: z.union([z.literal(1), z.literal(3)]),
    height: z.number().int().positive().max(4096),
    width: z.number().int().positive().max(4096),
  }),
  output: z.object({
    name: z.string().min(1).optional(),
    kind: z.enum(['logits', 'probabilities']).default('logits'),
  }),
  preprocessing: z
    .object({
      scale: z.number().positive().default(255),
      mean: z.array(z.number()).min(1).max(3).default([0]),
      std: z.array(z.number().positive()).min(1).max(3).default([1]),
      resize: z.enum(['stretch', 'contain', 'cover']).default('stretch'),
    })
    .default({ scale: 255, mean: [0], std: [1], resize: 'stretch' }),
  classes: z.array(z.string().min(1)).min(2),
  training: z.record(z.string(), z.unknown()).optional(),
});
export type Manifest = z.infer<typeof Manifest>;

export const Model = z.object({
  id,
  name: z.string(),
  path: z.string(),
  fileHash: z.string(),
  manifest: Manifest,
  addedAt: z.string(),
});

export const BundleSummary = z.object({
  path: z.string(),
  name: z.string(),
  classes: z.array(z.string()),
  models: z.array(z.object({ role: z.string(), file: z.string(), sha256: z.string(), quality: z.record(z.string(), z.unknown()) })),
});

export { Correctness };
export const ImageSort = z.enum(['id', 'class', 'confidence-asc', 'confidence-desc']);

export const ImageQuery = ImageFilter.extend({
  modelId: id.optional(),
  sort: ImageSort.default('id'),
  offset: z.number().int().min(0).default(0),
  limit: z.number().int().min(1).max(5000).default(500),
});

export const ImageRow = z.object({
  id,
  className: z.string().nullable(),
  predictedClass: z.string().nullable(),
  confidence: z.number().nullable(),
});

export const ImageDetail = z.object({
  id,
  datasetId: id,
  source: z.string(),
  className: z.string().nullable(),
  split: z.string().nullable(),
  width: z.number().int(),
  height: z.number().int(),
  channels: z.number().int(),
  contentHash: z.string(),
  byteSize: z.number().int(),
  prediction: z
    .object({
      modelId: id,
      predictedClass: z.string(),
      confidence: z.number(),
      probabilities: z.array(z.object({ className: z.string(), probability: z.number() })),
    })
    .nullable(),
});

export const Confusion = z.object({
  classes: z.array(z.string()),
  matrix: z.array(z.array(z.number().int())),
  total: z.number().int(),
  correct: z.number().int(),
  accuracy: z.number().nullable(),
});

export const CAM_METHOD_NAMES = ['gradcam', 'hirescam', 'xgradcam', 'gradcam++', 'layercam', 'scorecam', 'ablationcam', 'eigencam'] as const;
export const CamMethodName = z.enum(CAM_METHOD_NAMES);

export const LayerInfo = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  op: z.string(),
  gradients: z.boolean(),
  note: z.string().optional(),
});

export const ExplainRequest = z.object({
  modelId: id,
  method: CamMethodName,
  layer: z.string().min(1),
  /** A class index, or -1 for the predicted class. */
  target: z.number().int().min(-1).default(-1),
});

/** Which map of which image: the method, layer and class it explains. */
const ExplainedImage = z.object({
  imageId: id,
  method: CamMethodName,
  layer: z.string(),
  target: z.number().int(),
  targetClass: z.string(),
});

const LayerMap = ExplainedImage.extend({
  layerShape: z.tuple([z.number().int(), z.number().int()]),
  /** Row-major, layer resolution, after the method's ReLU, not scaled. */
  map: z.array(z.number()),
});

export const Explanation = LayerMap.extend({
  logits: z.array(z.number()),
  cached: z.boolean(),
});

export const FeatureCluster = z.object({
  /** Stable id: labels refer to a cluster by it. */
  id,
  index: z.number().int(),
  weight: z.number(),
  kept: z.boolean(),
  channels: z.array(z.number().int()),
  map: z.array(z.number()),
});

export const ClusteredLayer = z.object({
  layer: z.string(),
  shape: z.array(z.number().int()),
  thresholdPercent: z.number(),
  keptMaps: z.number().int(),
  k: z.number().int(),
  silhouette: z.number().nullable(),
  points: z.array(z.object({ channel: z.number().int(), x: z.number(), y: z.number(), cluster: z.number().int() })),
  clusters: z.array(FeatureCluster),
});

export const LayerwiseExplanation = z.object({
  runId: id,
  imageId: id,
  target: z.number().int(),
  targetClass: z.string(),
  layers: z.array(ClusteredLayer),
  cached: z.boolean(),
});

const MetricCurve = z.object({ x: z.array(z.number()), y: z.array(z.number()), auc: z.number() });

export const ImageMetrics = LayerMap.extend({
  steps: z.number().int(),
  /** Class probability while the most salient pixels turn black, step by step; lower area is better. */
  deletion: MetricCurve,
  /** Class probability while they appear on a black image; higher area is better. */
  insertion: MetricCurve,
  road: z.object({
    percentiles: z.array(z.number()),
    original: z.number(),
    morf: z.array(z.number()),
    lerf: z.array(z.number()),
    combined: z.number(),
  }),
});

export const SanityCheck = ExplainedImage.extend({
  steps: z.array(z.object({ layersRandomised: z.number().int(), layer: z.string(), op: z.string(), spearman: z.number() })),
});

export const JobKind = z.enum(['import', 'inference', 'explain', 'metrics', 'generative', 'index', 'faithfulness']);
export const JobStatus = z.enum(['queued', 'running', 'done', 'failed', 'cancelled', 'interrupted']);
export const Job = z.object({
  id: z.string(),
  kind: JobKind,
  status: JobStatus,
  title: z.string(),
  stage: z.string(),
  done: z.number().int(),
  total: z.number().int(),
  result: z.record(z.string(), z.unknown()).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type Job = z.infer<typeof Job>;

export const Providers = z.object({ available: z.array(z.string()), active: z.string() });

const JobStarted = z.object({ jobId: z.string() });
const Empty = z.object({}).default({});

/** Every method: its request schema and its result schema. */
export const methods = {
  'app.info': {
    request: Empty,
    result: z.object({ version: z.string(), transport: z.enum(['ipc', 'host', 'cli']), providers: Providers }),
  },
  'projects.create': { request: z.object({ path: z.string().min(1), name: z.string().optional() }), result: ProjectSummary },
  'projects.open': { request: z.object({ path: z.string().min(1) }), result: ProjectSummary },
  'projects.openDemo': { request: Empty, result: ProjectSummary },
  'projects.current': { request: Empty, result: ProjectSummary.nullable() },
  'projects.recent': { request: Empty, result: z.array(RecentProject) },
  'datasets.list': { request: Empty, result: z.array(Dataset) },
  'datasets.import': {
    request: z.object({
      source: z.string().min(1),
      name: z.string().optional(),
      labels: z.string().optional(),
      classes: z.array(z.string()).optional(),
    }),
    result: JobStarted,
  },
  'datasets.issues': { request: z.object({ datasetId: id }), result: z.array(ImportIssue) },
  'images.list': { request: ImageQuery, result: z.object({ total: z.number().int(), items: z.array(ImageRow) }) },
  'images.get': { request: z.object({ imageId: id, modelId: id.optional() }), result: ImageDetail },
  'models.list': { request: Empty, result: z.array(Model) },
  'models.add': { request: z.object({ path: z.string().min(1), manifestPath: z.string().optional() }), result: Model },
  'bundles.check': { request: z.object({ path: z.string().min(1) }), result: BundleSummary },
  'inference.run': { request: z.object({ modelId: id, datasetId: id, batchSize: z.number().int().min(1).max(4096).optional() }), result: JobStarted },
  'explain.layers': { request: z.object({ modelId: id }), result: z.array(LayerInfo) },
  'explain.image': { request: ExplainRequest.extend({ imageId: id }), result: Explanation },
  'explain.layerwise': { request: z.object({ modelId: id, imageId: id, target: z.number().int().min(-1).default(-1) }), result: LayerwiseExplanation },
  'explain.metrics': { request: ExplainRequest.extend({ imageId: id, steps: z.number().int().min(2).max(1000).default(50) }), result: ImageMetrics },
  'explain.sanity': { request: ExplainRequest.extend({ imageId: id }), result: SanityCheck },
  'explain.metricsSelection': {
    request: ExplainRequest.extend({ query: ImageQuery.omit({ offset: true, limit: true }), steps: z.number().int().min(2).max(1000).default(50) }),
    result: JobStarted,
  },
  'explain.selection': { request: ExplainRequest.extend({ query: ImageQuery.omit({ offset: true, limit: true }) }), result: JobStarted },
  /** Every cached CAM map of one image under the model (the comparison panel shows them). */
  'explain.cached': { request: z.object({ modelId: id, imageId: id }), result: z.array(Explanation) },
  'generative.decomposition': { request: z.object({ modelId: id, imageId: id, target: ClassChoice }), result: Decomposition },
  'generative.counterfactual': { request: CounterfactualRequest, result: Counterfactual },
  'generative.components': { request: z.object({ modelId: id, imageId: id, target: ClassChoice, top: z.number().int().min(1).max(64).default(8) }), result: Components },
  'generative.selection': {
    request: z.object({
      modelId: id,
      kinds: z.array(GenerativeKind).min(1),
      query: ImageQuery.omit({ offset: true, limit: true }),
      target: ClassChoice,
      steps: z.number().int().min(2).max(64).default(10),
    }),
    result: JobStarted,
  },
  /** One pass over a dataset: the class-code map (PCA or UMAP) and InfoDisent prototypes from its images. */
  'generative.index': { request: z.object({ modelId: id, datasetId: id, projection: Projection.default('pca') }), result: JobStarted },
  'generative.codeMap': {
    request: z.object({ modelId: id, datasetId: id, projection: Projection.optional(), codes: z.array(z.array(z.number())).max(256).optional() }),
    result: ClassCodeMap.extend({ path: z.array(z.object({ x: z.number(), y: z.number() })) }),
  },
  'overlays.choices': { request: z.object({ modelId: id }), result: z.array(OverlayChoice) },
  'overlays.maps': { request: z.object({ modelId: id, source: OverlaySource, imageIds: z.array(id).max(1000) }), result: z.array(OverlayMap) },
  'annotators.list': { request: Empty, result: z.array(Annotator) },
  'annotators.add': { request: z.object({ name: z.string().trim().min(1).max(60), role: AnnotatorRole.default('analyst') }), result: Annotator },
  /** Explanation sources a session can label: every cached kind of map under the model, counted over the filtered images. */
  'labels.sources': { request: z.object({ modelId: id, filter: ImageFilter.optional() }), result: z.array(LabelSourceChoice) },
  /** What a session request would build (items per task type, seats, tasks) and everything it cannot build, before it is created. */
  'labels.preview': { request: SessionRequest, result: SessionPreview },
  'labels.create': { request: SessionRequest, result: SessionDetail },
  'labels.sessions': { request: Empty, result: z.array(SessionSummary) },
  'labels.session': { request: z.object({ sessionId: id }), result: SessionDetail },
  /** An ended session goes back to open or paused only with `confirm: true` (else `confirmation_needed`). */
  'labels.setState': { request: z.object({ sessionId: id, state: SessionState, confirm: z.boolean().default(false) }), result: SessionDetail },
  'labels.removeSeat': { request: z.object({ sessionId: id, seatId: id }), result: SessionDetail },
  /** An annotator's next task; takes a free seat for an annotator who has none yet. */
  'labels.next': { request: z.object({ sessionId: id, annotatorId: id }), result: NextTask },
  'labels.answer': { request: z.object({ sessionId: id, annotatorId: id, taskId: z.string().min(1).max(200), answer: Answer, shownAt: z.string().max(40).nullable().default(null) }), result: AnswerAck },
  'labels.task': { request: z.object({ sessionId: id, annotatorId: id, taskId: z.string().min(1).max(200) }), result: TaskView },
  'labels.history': { request: z.object({ sessionId: id, annotatorId: id }), result: z.array(HistoryEntry) },
  'labels.reveal': { request: z.object({ sessionId: id, annotatorId: id, taskId: z.string().min(1).max(200), step: z.number().int() }), result: z.object({ src: z.string(), step: z.number().int(), percent: z.number() }) },
  'labels.leaderboard': { request: z.object({ sessionId: id, annotatorId: id }), result: Leaderboard },
  'labels.agreement': { request: z.object({ sessionId: id, samples: z.number().int().min(0).max(10000).default(1000) }), result: AgreementReport },
  'labels.export': { request: z.object({ sessionId: id, format: z.enum(['csv', 'jsonl']) }), result: z.object({ filename: z.string(), text: z.string(), answers: z.number().int() }) },
  'labels.exportPack': { request: z.object({ sessionId: id, path: z.string().min(1) }), result: z.object({ path: z.string(), pack: z.string(), seats: z.number().int(), tasks: z.number().int(), answers: z.number().int() }) },
  'labels.mergePack': { request: z.object({ path: z.string().min(1) }), result: MergeReport },
  /** Opens the session to the lab network: a join code, a URL and its QR code. */
  'labels.openCrowd': { request: z.object({ sessionId: id, host: z.string().max(100).optional(), port: z.number().int().min(0).max(65535).optional() }), result: z.object({ url: z.string(), code: z.string(), qrSvg: z.string() }) },
  'labels.closeCrowd': { request: z.object({ sessionId: id }), result: z.object({ closed: z.boolean() }) },
  /** Global explanations from the labels of the chosen sessions (all when none are named). */
  'aggregate.run': { request: AggregateRequest, result: Aggregate },
  'aggregate.edits': { request: Empty, result: z.array(StoredEdit) },
  'aggregate.edit': { request: ConceptEdit, result: StoredEdit },
  /** Removes one concept edit, or every edit when no id is given. */
  'aggregate.undoEdit': { request: z.object({ id: id.optional() }), result: z.object({ removed: z.number().int() }) },
  /** Deletion, insertion, ROAD and the sanity check of every labelled CAM map that has none cached. */
  'aggregate.faithfulness': { request: AggregateRequest.extend({ steps: z.number().int().min(2).max(1000).default(50) }), result: JobStarted },
  'aggregate.labelNext': { request: z.object({ sessionId: id }), result: z.array(LabelNextItem) },
  /** Example images with the map people saw over them, as data URIs (null when the session no longer holds the item). */
  'aggregate.examples': { request: z.object({ itemUuids: z.array(z.string().min(1).max(80)).max(60) }), result: z.array(z.object({ itemUuid: z.string(), src: z.string().nullable() })) },
  'aggregate.export': { request: AggregateRequest.extend({ table: AggregateTable, format: z.enum(['csv', 'json']) }), result: z.object({ filename: z.string(), text: z.string(), rows: z.number().int() }) },
  /** The self-contained HTML report; with `pdf`, also printed to that PDF file by Chromium. */
  'aggregate.report': { request: AggregateRequest.extend({ pdf: z.string().min(1).max(4096).optional() }), result: z.object({ filename: z.string(), html: z.string(), pdf: z.string().nullable() }) },
  'stats.confusion': { request: z.object({ modelId: id, datasetId: id }), result: Confusion },
  'jobs.list': { request: Empty, result: z.array(Job) },
  'jobs.cancel': { request: z.object({ jobId: z.string() }), result: z.object({ cancelled: z.boolean() }) },
  /** Runs an interrupted, failed or cancelled job again with its request, as a new job. */
  'jobs.retry': { request: z.object({ jobId: z.string().max(64) }), result: JobStarted },
} as const;

export type MethodName = keyof typeof methods;
export const METHOD_NAMES = Object.keys(methods) as MethodName[];
export type Request<M extends MethodName> = z.input<(typeof methods)[M]['request']>;
export type ParsedRequest<M extends MethodName> = z.output<(typeof methods)[M]['request']>;
export type Result<M extends MethodName> = z.output<(typeof methods)[M]['result']>;

/** Events pushed from main to every client. */
export const events = {
  'job.updated': Job,
  'project.changed': ProjectSummary.nullable(),
  /** A labelling session changed: an answer, a join, a state change. */
  'labels.changed': z.object({ sessionId: id }),
} as const;
export type EventName = keyof typeof events;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;
export const EVENT_NAMES = Object.keys(events) as EventName[];

/** The client interface that both transports implement and the renderer uses. */
export type XaiApi = {
  call<M extends MethodName>(method: M, request?: Request<M>): Promise<Result<M>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  imageUrl(imageId: number, variant: 'thumb' | 'full'): string;
  /** A URL answering many thumbnails at once (see src-main/datasets/image-bytes.ts thumbnailBatch). */
  thumbnailBatchUrl(imageIds: readonly number[]): string;
};

export type ProjectSummary = z.infer<typeof ProjectSummary>;
export type Dataset = z.infer<typeof Dataset>;
export type Model = z.infer<typeof Model>;
export type BundleSummary = z.infer<typeof BundleSummary>;
export type ImageRow = z.infer<typeof ImageRow>;
export type ImageDetail = z.infer<typeof ImageDetail>;
export type ImageQuery = z.input<typeof ImageQuery>;
export type Confusion = z.infer<typeof Confusion>;
export type ImportIssue = z.infer<typeof ImportIssue>;
export type RecentProject = z.infer<typeof RecentProject>;
export type LayerInfo = z.infer<typeof LayerInfo>;
export type Explanation = z.infer<typeof Explanation>;
export type CamMethodName = z.infer<typeof CamMethodName>;
export type LayerwiseExplanation = z.infer<typeof LayerwiseExplanation>;
export type ClusteredLayer = z.infer<typeof ClusteredLayer>;
export type ImageMetrics = z.infer<typeof ImageMetrics>;
export type SanityCheck = z.infer<typeof SanityCheck>;

/** IPC channel names, one per method and event, all under one prefix the main process checks. */
export const IPC_PREFIX = 'xai:';
export const IMAGE_SCHEME = 'xai-image';
export const APP_SCHEME = 'xai-app';
