/**
 * The workstation's state in one process: the open project, its job registry, the inference pool,
 * the recent-projects list, and the event fan-out to every connected client. The API router, the
 * CLI, the browser host and Electron all drive the same instance.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { BundleSummary, EventName, EventPayload, Explanation, ImageMetrics, LayerInfo, LayerwiseExplanation, Model, SanityCheck, ParsedRequest, ProjectSummary, RecentProject } from '../src-shared/contract.ts';
import { ApiError } from '../src-shared/errors.ts';
import { importTask, importTitle } from './datasets/import-job.ts';
import { explainImage, explainLayerwise, explainSelectionTask, imageMetrics, metricsSelectionTask, modelLayers, sanityCheck } from './explain/service.ts';
import type { ImportRequest } from './datasets/importer.ts';
import { inferenceTask } from './inference/inference-job.ts';
import { InferencePool } from './inference/pool.ts';
import { loadBundle } from './models/bundle.ts';
import { indexTask } from './explain/generative/dataset-index.ts';
import { selectionTask } from './explain/generative/service.ts';
import { JobRegistry } from './jobs/registry.ts';
import { registerModel } from './models/register.ts';
import { Project } from './store/project.ts';
import { LabelsHub } from './labels/hub.ts';
import { faithfulnessTask, type AggregateContext } from './aggregate/service.ts';

export interface WorkstationOptions {
  /** Where recent.json and the demo project live (Electron: userData; otherwise ~/.xaiws). */
  dataDir: string;
  /** The app's resources folder (demo dataset and models). */
  resourcesDir: string;
  transport: 'ipc' | 'host' | 'cli';
  poolSize?: number;
  /** Resident memory an inference worker may use, in MiB (default: 60 % of the machine's; see pool.ts). */
  workerMemoryMb?: number;
  /** Caches that outlive a project (the word-vector table); default XAIWS_CACHE or ~/.cache/xaiws. */
  cacheDir?: string;
  /** The built renderer (the crowd host serves its participant page); default: out/renderer beside resources. */
  rendererDir?: string;
}

type Listener = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export const DEMO_DATASET = 'datasets/fashion-mnist';
export const DEMO_MODEL = 'models/fashion-mnist-cnn/classifier.onnx';

export class Workstation {
  readonly pool: InferencePool;
  readonly labels: LabelsHub;
  private current: { project: Project; jobs: JobRegistry } | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(readonly options: WorkstationOptions) {
    this.pool = new InferencePool(options.poolSize ?? 1, undefined, { memoryLimitMb: options.workerMemoryMb });
    const rendererDir = options.rendererDir ?? join(dirname(resolve(options.resourcesDir)), 'out', 'renderer');
    this.labels = new LabelsHub(() => this.project, rendererDir, (sessionId) => this.emit('labels.changed', { sessionId }));
  }

  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const listener of this.listeners) listener(event, payload);
  }

  get project(): Project {
    if (!this.current) throw new ApiError('no_project', 'No project is open; create or open one first');
    return this.current.project;
  }

  get jobs(): JobRegistry {
    if (!this.current) throw new ApiError('no_project', 'No project is open; create or open one first');
    return this.current.jobs;
  }

  get hasProject(): boolean {
    return this.current !== null;
  }

  async createProject(path: string, name?: string): Promise<ProjectSummary> {
    const absolute = resolve(path);
    mkdirSync(dirname(absolute), { recursive: true });
    return this.activate(Project.create(absolute, name));
  }

  async openProject(path: string): Promise<ProjectSummary> {
    return this.activate(Project.open(resolve(path)));
  }

  /**
   * Opens the bundled demo project, creating it on first use: the 10,000 Fashion-MNIST test images
   * and the demo classifier, then inference as a job, so the browser fills while the user watches.
   */
  async openDemo(): Promise<ProjectSummary> {
    const path = join(this.options.dataDir, 'demo', 'fashion-mnist-demo.xaiws');
    if (existsSync(path)) return this.openProject(path);
    const summary = await this.createProject(path, 'Fashion-MNIST demo');
    const model = await this.addModel(join(this.options.resourcesDir, DEMO_MODEL));
    const importJob = this.startImport({ source: join(this.options.resourcesDir, DEMO_DATASET), name: 'Fashion-MNIST test set' });
    void this.jobs.wait(importJob.id).then((job) => {
      const datasetId = job.result?.datasetId;
      if (job.status === 'done' && typeof datasetId === 'number' && this.current) this.startInference(model.id, datasetId);
    });
    return summary;
  }

  recent(): RecentProject[] {
    const file = join(this.options.dataDir, 'recent.json');
    try {
      const list = JSON.parse(readFileSync(file, 'utf8')) as RecentProject[];
      return list.filter((entry) => existsSync(entry.path));
    } catch {
      return [];
    }
  }

  startImport(request: ImportRequest) {
    const project = this.project;
    return this.jobs.start('import', importTitle(request), request, importTask(project.path, request));
  }

  startInference(modelId: number, datasetId: number, batchSize?: number) {
    const project = this.project;
    const model = this.model(modelId);
    const dataset = project.datasets.get(datasetId);
    if (!dataset) throw new ApiError('dataset_not_found', `No dataset with id ${datasetId} in this project`);
    return this.jobs.start('inference', `Classify ${dataset.name} with ${model.name}`, { modelId, datasetId }, inferenceTask(project, this.pool, model, datasetId, batchSize));
  }

  layers(modelId: number): Promise<LayerInfo[]> {
    return modelLayers(this.pool, this.model(modelId));
  }

  explainImage(request: ParsedRequest<'explain.image'>): Promise<Explanation> {
    return explainImage(this.project, this.pool, this.model(request.modelId), request);
  }

  explainLayerwise(request: ParsedRequest<'explain.layerwise'>): Promise<LayerwiseExplanation> {
    return explainLayerwise(this.project, this.pool, this.model(request.modelId), request);
  }

  imageMetrics(request: ParsedRequest<'explain.metrics'>): Promise<ImageMetrics> {
    return imageMetrics(this.project, this.pool, this.model(request.modelId), request);
  }

  sanityCheck(request: ParsedRequest<'explain.sanity'>): Promise<SanityCheck> {
    return sanityCheck(this.project, this.pool, this.model(request.modelId), request);
  }

  get aggregation(): AggregateContext {
    return { project: this.project, pool: this.pool, cacheDir: this.options.cacheDir ?? process.env.XAIWS_CACHE ?? join(homedir(), '.cache', 'xaiws') };
  }

  startFaithfulness(request: ParsedRequest<'aggregate.faithfulness'>) {
    const task = faithfulnessTask(this.aggregation, request.sessionIds, request.steps);
    return this.jobs.start('faithfulness', 'Faithfulness metrics of the labelled maps', request, task);
  }

  startMetrics(request: ParsedRequest<'explain.metricsSelection'>) {
    const project = this.project;
    const model = this.model(request.modelId);
    const task = metricsSelectionTask(project, this.pool, model, request);
    return this.jobs.start('metrics', `${request.method} metrics of a selection with ${model.name}`, request, task);
  }

  startExplain(request: ParsedRequest<'explain.selection'>) {
    const project = this.project;
    const model = this.model(request.modelId);
    const task = explainSelectionTask(project, this.pool, model, request);
    return this.jobs.start('explain', `${request.method} of a selection with ${model.name}`, request, task);
  }

  /** What the generative explainers need of the open project and one of its models. */
  generativeContext(modelId: number) {
    return { project: this.project, pool: this.pool, model: this.model(modelId) };
  }

  cachedExplanations(modelId: number, imageId: number): Explanation[] {
    const model = this.model(modelId);
    return this.project.explanations.forImage(model.fileHash, imageId).filter((e) => e.params === '{}').map((e) => ({
      imageId,
      method: e.method as Explanation['method'],
      layer: e.layer,
      target: e.targetClass,
      targetClass: model.manifest.classes[e.targetClass] ?? String(e.targetClass),
      layerShape: [e.height, e.width] as [number, number],
      map: Array.from(e.map),
      logits: Array.from(e.logits),
      cached: true,
    }));
  }

  startGenerative(request: ParsedRequest<'generative.selection'>) {
    const context = this.generativeContext(request.modelId);
    return this.jobs.start('generative', `${request.kinds.join(', ')} of a selection with ${context.model.name}`, request, selectionTask(context, request));
  }

  startIndex(request: ParsedRequest<'generative.index'>) {
    const context = this.generativeContext(request.modelId);
    const task = indexTask(context, request);
    return this.jobs.start('index', `Index ${this.project.datasets.get(request.datasetId)?.name} for ${context.model.name}'s explainers (${request.projection.toUpperCase()})`, request, task);
  }

  /** Validate a model bundle folder (hashes, tensor shapes, data files) without changing the project. */
  async checkBundle(path: string): Promise<BundleSummary> {
    const loaded = await loadBundle(path, (file, sha256) => this.pool.inspect(sha256, file));
    return {
      path: loaded.dir,
      name: loaded.bundle.name,
      classes: loaded.bundle.classes,
      models: Object.entries(loaded.models).map(([role, model]) => ({ role, file: model.spec.file, sha256: model.sha256, quality: model.spec.quality })),
    };
  }

  async addModel(path: string, manifestPath?: string): Promise<Model> {
    return registerModel(this.project, this.pool, path, manifestPath);
  }

  model(modelId: number): Model {
    const model = this.project.models.get(modelId);
    if (!model) throw new ApiError('model_not_found', `No model with id ${modelId} in this project`);
    return model;
  }

  async closeProject(): Promise<void> {
    if (!this.current) return;
    const { project, jobs } = this.current;
    this.current = null;
    await this.labels.closeAll();
    await jobs.cancelAll();
    project.close();
  }

  async shutdown(): Promise<void> {
    await this.closeProject();
    await this.pool.close();
  }

  private async activate(project: Project): Promise<ProjectSummary> {
    await this.closeProject();
    const jobs = new JobRegistry(project, (job) => this.emit('job.updated', job));
    this.current = { project, jobs };
    this.remember(project);
    const summary = project.summary();
    this.emit('project.changed', summary);
    return summary;
  }

  private remember(project: Project): void {
    const file = join(this.options.dataDir, 'recent.json');
    const entry = { path: project.path, name: project.name, openedAt: new Date().toISOString() };
    const list = [entry, ...this.recent().filter((other) => other.path !== project.path)].slice(0, 12);
    try {
      mkdirSync(this.options.dataDir, { recursive: true });
      writeFileSync(file, JSON.stringify(list, null, 2));
    } catch {
      // The recent list is a convenience; a read-only home must not stop a project from opening.
    }
  }
}
