/**
 * The workstation's state in the renderer: the open project, its datasets, models and jobs, the
 * browser's filters and selection, and which panel is open. Views read it; actions call the API and
 * update it; job events from main keep it current.
 */
import type { GenerativeKind } from '../../src-shared/schemas/generative.ts';
import type { CamMethodName, Dataset, ImageQuery, Job, Model, ProjectSummary, RecentProject } from '../../src-shared/contract.ts';
import { api } from './api.ts';
import { ImagePages } from './image-pages.svelte.ts';
import { thumbnails } from './thumbnails.svelte.ts';

export type Correctness = 'all' | 'correct' | 'wrong';
export type Sort = 'id' | 'class' | 'confidence-asc' | 'confidence-desc';
export type Panel = 'none' | 'confusion' | 'jobs' | 'issues' | 'help' | 'methods' | 'layers' | 'metrics' | 'decomposition' | 'counterfactual' | 'components' | 'compare' | 'labelling' | 'global';

export interface Filters {
  trueClass: string;
  predictedClass: string;
  split: string;
  correctness: Correctness;
  confidenceMin: number;
  confidenceMax: number;
  sort: Sort;
}

export const NO_FILTERS: Filters = { trueClass: '', predictedClass: '', split: '', correctness: 'all', confidenceMin: 0, confidenceMax: 1, sort: 'id' };

const SORTS: readonly Sort[] = ['id', 'class', 'confidence-asc', 'confidence-desc'];
const CORRECTNESS: readonly Correctness[] = ['all', 'correct', 'wrong'];

/** Filters read back from storage, field by field; anything that is not a filter of this dataset is dropped. */
export function filtersFrom(value: unknown, dataset: Pick<Dataset, 'classes' | 'splits'> | null, modelClasses: readonly string[]): Filters {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const text = (x: unknown, allowed: readonly string[]) => (typeof x === 'string' && allowed.includes(x) ? x : '');
  const unit = (x: unknown, fallback: number) => (typeof x === 'number' && x >= 0 && x <= 1 ? x : fallback);
  return {
    trueClass: text(v.trueClass, dataset?.classes ?? []),
    predictedClass: text(v.predictedClass, modelClasses),
    split: text(v.split, dataset?.splits ?? []),
    correctness: CORRECTNESS.includes(v.correctness as Correctness) ? (v.correctness as Correctness) : 'all',
    confidenceMin: unit(v.confidenceMin, 0),
    confidenceMax: unit(v.confidenceMax, 1),
    sort: SORTS.includes(v.sort as Sort) ? (v.sort as Sort) : 'id',
  };
}

export interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

export class Workspace {
  ready = $state(false);
  project = $state.raw<ProjectSummary | null>(null);
  recent = $state.raw<RecentProject[]>([]);
  datasets = $state.raw<Dataset[]>([]);
  models = $state.raw<Model[]>([]);
  jobs = $state.raw<Job[]>([]);
  provider = $state.raw({ available: [] as string[], active: '' });
  datasetId = $state<number | null>(null);
  modelId = $state<number | null>(null);
  filters = $state<Filters>({ ...NO_FILTERS });
  selectedIndex = $state(-1);
  openImageId = $state<number | null>(null);
  panel = $state<Panel>('none');
  /** The start view over an open project: create, open or pick a recent one, or go back. */
  choosingProject = $state(false);
  toasts = $state<Toast[]>([]);
  readonly pages = new ImagePages();
  private toastId = 0;
  private lastGrowthRefresh = 0;

  dataset = $derived(this.datasets.find((dataset) => dataset.id === this.datasetId) ?? null);
  model = $derived(this.models.find((model) => model.id === this.modelId) ?? null);
  runningJobs = $derived(this.jobs.filter((job) => job.status === 'running' || job.status === 'queued'));

  query = $derived.by((): Omit<ImageQuery, 'offset' | 'limit'> | null => {
    if (this.datasetId === null) return null;
    const f = this.filters;
    return {
      datasetId: this.datasetId,
      modelId: this.modelId ?? undefined,
      trueClass: f.trueClass || undefined,
      predictedClass: f.predictedClass || undefined,
      split: f.split || undefined,
      correctness: f.correctness,
      confidenceMin: f.confidenceMin,
      confidenceMax: f.confidenceMax,
      sort: f.sort,
    };
  });

  async init(): Promise<void> {
    api.on('job.updated', (job) => this.onJob(job));
    api.on('project.changed', (summary) => {
      if (summary?.path !== this.project?.path) thumbnails.clear();
      this.project = summary;
      void this.refresh();
    });
    await this.attempt(async () => {
      const [project, recent] = await Promise.all([api.call('projects.current'), api.call('projects.recent')]);
      this.recent = recent;
      this.project = project;
      if (project) await this.refresh();
    });
    this.ready = true;
  }

  async refresh(): Promise<void> {
    if (!this.project) return;
    await this.attempt(async () => {
      const [datasets, models, jobs, info, project] = await Promise.all([
        api.call('datasets.list'), api.call('models.list'), api.call('jobs.list'), api.call('app.info'), api.call('projects.current'),
      ]);
      this.datasets = datasets;
      this.models = models;
      this.jobs = jobs;
      this.provider = info.providers;
      this.project = project;
      if (this.modelId === null || !models.some((m) => m.id === this.modelId)) this.modelId = models[0]?.id ?? null;
      if (this.datasetId === null || !datasets.some((d) => d.id === this.datasetId)) this.chooseDataset(datasets[0]?.id ?? null);
    });
  }

  async openDemo(): Promise<void> {
    await this.attempt(async () => this.switchTo(await api.call('projects.openDemo')));
  }

  async openProject(path: string): Promise<void> {
    await this.attempt(async () => this.switchTo(await api.call('projects.open', { path })));
  }

  async createProject(path: string): Promise<void> {
    await this.attempt(async () => this.switchTo(await api.call('projects.create', { path })));
  }

  async importSource(source: string): Promise<void> {
    await this.attempt(async () => {
      await api.call('datasets.import', { source });
      this.panel = 'jobs';
    });
  }

  async addModel(path: string, manifestPath?: string): Promise<void> {
    await this.attempt(async () => {
      const model = await api.call('models.add', { path, manifestPath: manifestPath || undefined });
      this.notify('info', `Model "${model.name}" registered`);
      await this.refresh();
      this.modelId = model.id;
    });
  }

  async runInference(): Promise<void> {
    if (this.modelId === null || this.datasetId === null) return;
    const [modelId, datasetId] = [this.modelId, this.datasetId];
    await this.attempt(async () => {
      await api.call('inference.run', { modelId, datasetId });
      this.panel = 'jobs';
    });
  }

  /**
   * Every image the current filters match as one job: explained with one method ('explain.selection')
   * or, for 'explain.metricsSelection', its deletion, insertion and ROAD averaged.
   */
  async startSelectionJob(kind: 'explain.selection' | 'explain.metricsSelection', method: CamMethodName, layer: string, target: number): Promise<void> {
    const query = this.query;
    if (this.modelId === null || !query || !layer) return;
    const modelId = this.modelId;
    await this.attempt(async () => {
      await api.call(kind, { modelId, method, layer, target, query });
      this.panel = 'jobs';
    });
  }

  /** Decompositions, paths or components of every image the current filters match, as one job. */
  async startGenerativeJob(kinds: GenerativeKind[], target: number, steps?: number): Promise<void> {
    const query = this.query;
    if (this.modelId === null || !query) return;
    const modelId = this.modelId;
    await this.attempt(async () => {
      await api.call('generative.selection', { modelId, kinds, target, steps, query });
      this.panel = 'jobs';
    });
  }

  /** One pass of the bundle's encoders over the current dataset: class-code map and prototypes. */
  async startIndexJob(projection: 'pca' | 'umap'): Promise<void> {
    if (this.modelId === null || this.datasetId === null) return;
    const [modelId, datasetId] = [this.modelId, this.datasetId];
    await this.attempt(async () => {
      await api.call('generative.index', { modelId, datasetId, projection });
      this.notify('info', `Indexing the dataset (${projection.toUpperCase()}); the views update when it is done`);
    });
  }

  async cancelJob(jobId: string): Promise<void> {
    await this.attempt(async () => void (await api.call('jobs.cancel', { jobId })));
  }

  async retryJob(jobId: string): Promise<void> {
    await this.attempt(async () => void (await api.call('jobs.retry', { jobId })));
  }

  /**
   * Each dataset has its own filters (class names, splits and confidence mean nothing in another), kept
   * in this browser per project and dataset, so they come back after a reload.
   */
  chooseDataset(datasetId: number | null): void {
    this.datasetId = datasetId;
    this.openImageId = null;
    this.filters = datasetId === null ? { ...NO_FILTERS } : this.storedFilters(datasetId);
  }

  private filtersKey(datasetId: number): string {
    return `xaiws.filters:${this.project?.path ?? ''}:${datasetId}`;
  }

  private storedFilters(datasetId: number): Filters {
    let stored: unknown = null;
    try {
      stored = JSON.parse(globalThis.localStorage?.getItem(this.filtersKey(datasetId)) ?? 'null');
    } catch {
      stored = null;
    }
    const dataset = this.datasets.find((d) => d.id === datasetId) ?? null;
    return filtersFrom(stored, dataset, this.model?.manifest.classes ?? []);
  }

  /** Remembers the current dataset's filters (WorkspaceView calls it whenever they change). */
  saveFilters(): void {
    if (this.datasetId === null) return;
    try {
      globalThis.localStorage?.setItem(this.filtersKey(this.datasetId), JSON.stringify(this.filters));
    } catch {
      // Storage full or disabled: the filters just do not outlive the page.
    }
  }

  /** A confusion-matrix cell: exactly the images of that true and predicted class (its count), whatever was filtered before. */
  showCell(trueClass: string, predictedClass: string): void {
    this.filters = { ...NO_FILTERS, sort: this.filters.sort, trueClass, predictedClass };
    this.panel = 'none';
  }

  resetFilters(): void {
    this.filters = { ...NO_FILTERS };
  }

  notify(kind: Toast['kind'], text: string): void {
    const toast = { id: ++this.toastId, kind, text };
    this.toasts = [...this.toasts, toast];
    setTimeout(() => this.dismiss(toast.id), kind === 'error' ? 12_000 : 4_000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((toast) => toast.id !== id);
  }

  async chooseProject(): Promise<void> {
    await this.attempt(async () => {
      this.recent = await api.call('projects.recent');
      this.choosingProject = true;
    });
  }

  private async switchTo(project: ProjectSummary): Promise<void> {
    if (project.readOnly) this.notify('info', `${project.name} is open read-only: you can browse and explain it, but nothing can be saved to it.`);
    thumbnails.clear(); // image ids belong to a project
    this.choosingProject = false;
    this.project = project;
    this.chooseDataset(null);
    this.modelId = null;
    await this.refresh();
  }

  private onJob(job: Job): void {
    const others = this.jobs.filter((other) => other.id !== job.id);
    this.jobs = [job, ...others].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    const finished = job.status === 'done' || job.status === 'cancelled' || job.status === 'failed';
    if (job.status === 'failed' && job.error) this.notify('error', `${job.title} failed: ${job.error.message}`);
    const growing = job.kind === 'import' && job.status === 'running' && Date.now() - this.lastGrowthRefresh > 1500;
    if (finished || growing) {
      this.lastGrowthRefresh = Date.now();
      void this.refresh().then(() => this.pages.reset(this.query));
    }
  }

  private async attempt(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.notify('error', (error as Error).message);
    }
  }
}

export const workspace = new Workspace();
