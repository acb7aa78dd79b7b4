/**
 * The one API contract. Every capability of the workstation is a method here with a zod schema for
 * its request and its result, and every push from main to renderer is an event here. Main validates
 * requests against it (src-main/api/router.ts), the preload exposes exactly these methods, and the
 * renderer and CLI use the inferred types. Adding a method means adding it here first. This file keeps
 * the method and event tables; the schemas they are made of live in src-shared/schemas/.
 */
import { z } from 'zod';
import {
  AgreementReport,
  Annotator,
  Answer,
  AnnotatorRole,
  AnswerAck,
  HistoryEntry,
  LabelSourceChoice,
  Leaderboard,
  MergeReport,
  NextTask,
  SessionDetail,
  SessionPreview,
  SessionRequest,
  SessionState,
  SessionSummary,
  TaskView,
} from './schemas/labels.ts';
import {
  Aggregate,
  AggregateRequest,
  AggregateTable,
  ConceptEdit,
  GroupedTerms,
  GroupTermsRequest,
  LabelNextItem,
  StoredEdit,
} from './schemas/aggregate.ts';
import { Correctness, Confusion, ImageDetail, ImageFilter, ImageQuery, ImageRow, ImageSort } from './schemas/images.ts';
import {
  BundleSummary,
  Dataset,
  id,
  ImportIssue,
  Manifest,
  Model,
  ProjectSummary,
  RecentProject,
} from './schemas/project.ts';
import {
  CamMethodName,
  ClusteredLayer,
  ExplainRequest,
  Explanation,
  ImageMetrics,
  LayerInfo,
  LayerwiseExplanation,
  SanityCheck,
} from './schemas/explain.ts';
import { Job, Providers } from './schemas/jobs.ts';
import { BenchmarkReport, BenchmarkRequest, DemoName, TruthFile } from './schemas/benchmark.ts';
import { DatasetMap, MapRequest, SimilarImages, SimilarRequest } from './schemas/map.ts';
import { StrategiesQuery, StrategiesRequest, StrategyReport } from './schemas/strategies.ts';
import { TcavReport, TcavRequest } from './schemas/tcav.ts';
import {
  ClassChoice,
  ClassCodeMap,
  Components,
  Counterfactual,
  CounterfactualRequest,
  Decomposition,
  GenerativeKind,
  OverlayChoice,
  OverlayMap,
  OverlaySource,
  Projection,
} from './schemas/generative.ts';

export * from './schemas/project.ts';
export * from './schemas/explain.ts';
export * from './schemas/jobs.ts';
export * from './schemas/benchmark.ts';
export * from './schemas/map.ts';
export * from './schemas/strategies.ts';
export * from './schemas/tcav.ts';
export { Correctness, Confusion, ImageDetail, ImageQuery, ImageRow, ImageSort } from './schemas/images.ts';

const JobStarted = z.object({ jobId: z.string() });

/** What a native open or save dialog is for: its title, filters and whether it picks a folder. */
export const OpenPurpose = z.enum(['import-folder', 'import-file', 'model', 'manifest', 'pack', 'project']);
export const SavePurpose = z.enum(['report-html', 'report-pdf', 'pack', 'project']);
export type OpenPurpose = z.infer<typeof OpenPurpose>;
export type SavePurpose = z.infer<typeof SavePurpose>;
const Empty = z.object({}).default({});

/** Every method: its request schema and its result schema. */
export const methods = {
  'app.info': {
    request: Empty,
    /** `nativeDialogs`: the desktop app, where files are chosen in the system's dialogs (dialogs.*) instead of typed. */
    result: z.object({
      version: z.string(),
      transport: z.enum(['ipc', 'host', 'cli']),
      providers: Providers,
      nativeDialogs: z.boolean(),
    }),
  },
  'dialogs.open': { request: z.object({ purpose: OpenPurpose }), result: z.object({ path: z.string().nullable() }) },
  'dialogs.save': {
    request: z.object({ purpose: SavePurpose, defaultName: z.string().max(200).optional() }),
    result: z.object({ path: z.string().nullable() }),
  },
  'projects.create': {
    request: z.object({ path: z.string().min(1), name: z.string().optional() }),
    result: ProjectSummary,
  },
  'projects.open': { request: z.object({ path: z.string().min(1) }), result: ProjectSummary },
  /** Opens a bundled demo project (Fashion-MNIST by default), creating and filling it on first use. */
  'projects.openDemo': {
    request: z.object({ demo: DemoName.default('fashion-mnist') }).default({ demo: 'fashion-mnist' }),
    result: ProjectSummary,
  },
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
  'inference.run': {
    request: z.object({ modelId: id, datasetId: id, batchSize: z.number().int().min(1).max(4096).optional() }),
    result: JobStarted,
  },
  /** DXAI, CAE and InfoDisent trained for a model on a dataset by the Python toolkit (a job). */
  'explainers.train': {
    request: z.object({
      modelId: id,
      datasetId: id,
      roles: z
        .array(z.enum(['dxai', 'cae', 'infodisent']))
        .min(1)
        .default(['dxai', 'cae', 'infodisent']),
      steps: z.number().int().min(1).max(1_000_000).optional(),
      epochs: z.number().int().min(1).max(10_000).optional(),
    }),
    result: JobStarted,
  },
  /** The training's latest previews (PNG, base64) of a few test images, per explainer. */
  'explainers.preview': {
    request: z.object({ modelId: id }),
    result: z.array(z.object({ role: z.enum(['dxai', 'cae']), png: z.string() })),
  },
  /** Truth files (benchmark.json) found beside the project's datasets' sources. */
  'benchmark.truths': { request: Empty, result: z.array(TruthFile) },
  /** Every CAM and attribution method and DXAI's distinct part scored against a benchmark's masks (a job). */
  'benchmark.run': { request: BenchmarkRequest, result: JobStarted },
  /** The latest finished checks of a model against a truth file, or null. */
  'benchmark.result': {
    request: z.object({ modelId: id, truth: z.string().min(1) }),
    result: BenchmarkReport.nullable(),
  },
  /** The dataset map of a model: embeddings, 2-D layout, neighbours and scores (a job; adds new images to a stored map). */
  'map.build': { request: MapRequest, result: JobStarted },
  /** The newest map of a model over a dataset, or null. */
  'map.get': { request: z.object({ modelId: id, datasetId: id }), result: DatasetMap.nullable() },
  /** An image's nearest neighbours on its dataset's newest map. */
  'map.similar': { request: SimilarRequest, result: SimilarImages },
  /** SpRAy: one method's maps of a class's images clustered into the model's strategies (a job). */
  'strategies.run': { request: StrategiesRequest, result: JobStarted },
  /** The newest strategies of a class (for one method, or any), or null. */
  'strategies.result': { request: StrategiesQuery, result: StrategyReport.nullable() },
  /** TCAV: the atlas's concepts tested on the model, from the regions people labelled (a job). */
  'tcav.run': { request: TcavRequest, result: JobStarted },
  /** The newest TCAV report of a model over a dataset, or null. */
  'tcav.result': { request: z.object({ modelId: id, datasetId: id }), result: TcavReport.nullable() },
  'explain.layers': { request: z.object({ modelId: id }), result: z.array(LayerInfo) },
  'explain.image': { request: ExplainRequest.extend({ imageId: id }), result: Explanation },
  'explain.layerwise': {
    request: z.object({ modelId: id, imageId: id, target: z.number().int().min(-1).default(-1) }),
    result: LayerwiseExplanation,
  },
  'explain.metrics': {
    request: ExplainRequest.extend({ imageId: id, steps: z.number().int().min(2).max(1000).default(50) }),
    result: ImageMetrics,
  },
  'explain.sanity': { request: ExplainRequest.extend({ imageId: id }), result: SanityCheck },
  'explain.metricsSelection': {
    request: ExplainRequest.extend({
      query: ImageQuery.omit({ offset: true, limit: true }),
      steps: z.number().int().min(2).max(1000).default(50),
    }),
    result: JobStarted,
  },
  'explain.selection': {
    request: ExplainRequest.extend({ query: ImageQuery.omit({ offset: true, limit: true }) }),
    result: JobStarted,
  },
  /** Every cached CAM map of one image under the model (the comparison panel shows them). */
  'explain.cached': { request: z.object({ modelId: id, imageId: id }), result: z.array(Explanation) },
  'generative.decomposition': {
    request: z.object({ modelId: id, imageId: id, target: ClassChoice }),
    result: Decomposition,
  },
  'generative.counterfactual': { request: CounterfactualRequest, result: Counterfactual },
  'generative.components': {
    request: z.object({
      modelId: id,
      imageId: id,
      target: ClassChoice,
      top: z.number().int().min(1).max(64).default(8),
    }),
    result: Components,
  },
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
  'generative.index': {
    request: z.object({ modelId: id, datasetId: id, projection: Projection.default('pca') }),
    result: JobStarted,
  },
  'generative.codeMap': {
    request: z.object({
      modelId: id,
      datasetId: id,
      projection: Projection.optional(),
      codes: z.array(z.array(z.number())).max(256).optional(),
    }),
    result: ClassCodeMap.extend({ path: z.array(z.object({ x: z.number(), y: z.number() })) }),
  },
  'overlays.choices': { request: z.object({ modelId: id }), result: z.array(OverlayChoice) },
  'overlays.maps': {
    request: z.object({ modelId: id, source: OverlaySource, imageIds: z.array(id).max(1000) }),
    result: z.array(OverlayMap),
  },
  'annotators.list': { request: Empty, result: z.array(Annotator) },
  'annotators.add': {
    request: z.object({ name: z.string().trim().min(1).max(60), role: AnnotatorRole.default('analyst') }),
    result: Annotator,
  },
  /** Explanation sources a session can label: every cached kind of map under the model, counted over the filtered images. */
  'labels.sources': {
    request: z.object({ modelId: id, filter: ImageFilter.optional() }),
    result: z.array(LabelSourceChoice),
  },
  /** What a session request would build (items per task type, seats, tasks) and everything it cannot build, before it is created. */
  'labels.preview': { request: SessionRequest, result: SessionPreview },
  'labels.create': { request: SessionRequest, result: SessionDetail },
  'labels.sessions': { request: Empty, result: z.array(SessionSummary) },
  'labels.session': { request: z.object({ sessionId: id }), result: SessionDetail },
  /** An ended session goes back to open or paused only with `confirm: true` (else `confirmation_needed`). */
  'labels.setState': {
    request: z.object({ sessionId: id, state: SessionState, confirm: z.boolean().default(false) }),
    result: SessionDetail,
  },
  'labels.removeSeat': { request: z.object({ sessionId: id, seatId: id }), result: SessionDetail },
  /** An annotator's next task; takes a free seat for an annotator who has none yet. */
  'labels.next': { request: z.object({ sessionId: id, annotatorId: id }), result: NextTask },
  'labels.answer': {
    request: z.object({
      sessionId: id,
      annotatorId: id,
      taskId: z.string().min(1).max(200),
      answer: Answer,
      shownAt: z.string().max(40).nullable().default(null),
    }),
    result: AnswerAck,
  },
  'labels.task': {
    request: z.object({ sessionId: id, annotatorId: id, taskId: z.string().min(1).max(200) }),
    result: TaskView,
  },
  'labels.history': { request: z.object({ sessionId: id, annotatorId: id }), result: z.array(HistoryEntry) },
  'labels.reveal': {
    request: z.object({ sessionId: id, annotatorId: id, taskId: z.string().min(1).max(200), step: z.number().int() }),
    result: z.object({ src: z.string(), step: z.number().int(), percent: z.number() }),
  },
  'labels.leaderboard': { request: z.object({ sessionId: id, annotatorId: id }), result: Leaderboard },
  'labels.agreement': {
    request: z.object({ sessionId: id, samples: z.number().int().min(0).max(10000).default(1000) }),
    result: AgreementReport,
  },
  'labels.export': {
    request: z.object({ sessionId: id, format: z.enum(['csv', 'jsonl']) }),
    result: z.object({ filename: z.string(), text: z.string(), answers: z.number().int() }),
  },
  'labels.exportPack': {
    request: z.object({ sessionId: id, path: z.string().min(1) }),
    result: z.object({
      path: z.string(),
      pack: z.string(),
      seats: z.number().int(),
      tasks: z.number().int(),
      answers: z.number().int(),
    }),
  },
  'labels.mergePack': { request: z.object({ path: z.string().min(1) }), result: MergeReport },
  /** Opens the session to the lab network: a join code, a URL and its QR code. */
  'labels.openCrowd': {
    request: z.object({
      sessionId: id,
      host: z.string().max(100).optional(),
      port: z.number().int().min(0).max(65535).optional(),
    }),
    result: z.object({ url: z.string(), code: z.string(), qrSvg: z.string() }),
  },
  'labels.closeCrowd': { request: z.object({ sessionId: id }), result: z.object({ closed: z.boolean() }) },
  /** Global explanations from the labels of the chosen sessions (all when none are named). */
  'aggregate.run': { request: AggregateRequest, result: Aggregate },
  'aggregate.edits': { request: Empty, result: z.array(StoredEdit) },
  /** The concepts the app would make of these terms (one term or phrase each), without a project's labels. */
  'aggregate.groupTerms': { request: GroupTermsRequest, result: GroupedTerms },
  'aggregate.edit': { request: ConceptEdit, result: StoredEdit },
  /** Removes one concept edit, or every edit when no id is given. */
  'aggregate.undoEdit': { request: z.object({ id: id.optional() }), result: z.object({ removed: z.number().int() }) },
  /** Deletion, insertion, ROAD and the sanity check of every labelled CAM map that has none cached. */
  'aggregate.faithfulness': {
    request: AggregateRequest.extend({ steps: z.number().int().min(2).max(1000).default(50) }),
    result: JobStarted,
  },
  'aggregate.labelNext': { request: z.object({ sessionId: id }), result: z.array(LabelNextItem) },
  /** Example images with the map people saw over them, as data URIs (null when the session no longer holds the item). */
  'aggregate.examples': {
    request: z.object({ itemUuids: z.array(z.string().min(1).max(80)).max(60) }),
    result: z.array(z.object({ itemUuid: z.string(), src: z.string().nullable() })),
  },
  'aggregate.export': {
    request: AggregateRequest.extend({ table: AggregateTable, format: z.enum(['csv', 'json']) }),
    result: z.object({ filename: z.string(), text: z.string(), rows: z.number().int() }),
  },
  /** The self-contained HTML report; with `pdf`, also printed to that PDF file by Chromium. */
  'aggregate.report': {
    request: AggregateRequest.extend({
      pdf: z.string().min(1).max(4096).optional(),
      html: z.string().min(1).max(4096).optional(),
    }),
    result: z.object({ filename: z.string(), html: z.string(), pdf: z.string().nullable() }),
  },
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
  /** A URL answering many thumbnails at once (see src-main/datasets/read/image-bytes.ts thumbnailBatch). */
  thumbnailBatchUrl(imageIds: readonly number[]): string;
};

/** IPC channel names, one per method and event, all under one prefix the main process checks. */
export const IPC_PREFIX = 'xai:';
export const IMAGE_SCHEME = 'xai-image';
export const APP_SCHEME = 'xai-app';
