/**
 * The workstation's state in the renderer: the open project, its datasets, models and jobs, the
 * browser's filters and selection, and which panel is open. Views read it; actions call the API and
 * update it; job events from main keep it current.
 */
import {
  type Dataset,
  type DemoName,
  type ImageQuery,
  type Job,
  type Model,
  type OpenPurpose,
  type ProjectSummary,
  type RecentProject,
  type SavePurpose,
  type XaiApi,
} from '../../src-shared/contract.ts';
import { api as defaultApi } from './api.ts';
import { filtersFrom, NO_FILTERS, type Filters } from './filters.ts';
import { ImagePages } from './image-pages.svelte.ts';

export { filtersFrom, NO_FILTERS, type Filters };
import { thumbnails } from './thumbnails.svelte.ts';

export type Panel =
  | 'none'
  | 'confusion'
  | 'jobs'
  | 'issues'
  | 'help'
  | 'methods'
  | 'layers'
  | 'metrics'
  | 'decomposition'
  | 'counterfactual'
  | 'components'
  | 'compare'
  | 'labelling'
  | 'global'
  | 'truth'
  | 'map'
  | 'strategies';

export interface Toast {
  id: number;
  kind: 'error' | 'info';
  text: string;
}

export class Workspace {
  constructor(private readonly api: XaiApi = defaultApi) {}

  #ready = $state(false);
  #project = $state.raw<ProjectSummary | null>(null);
  #recent = $state.raw<RecentProject[]>([]);
  #datasets = $state.raw<Dataset[]>([]);
  #models = $state.raw<Model[]>([]);
  #jobs = $state.raw<Job[]>([]);
  #provider = $state.raw({ available: [] as string[], active: '' });
  #nativeDialogs = $state(false);
  #datasetId = $state<number | null>(null);
  #modelId = $state<number | null>(null);
  #filters = $state<Filters>({ ...NO_FILTERS });
  #selectedIndex = $state(-1);
  #openImageId = $state<number | null>(null);
  #panel = $state<Panel>('none');
  /** The start view over an open project: create, open or pick a recent one, or go back. */
  #choosingProject = $state(false);
  #toasts = $state<Toast[]>([]);
  readonly pages = new ImagePages();

  get ready() {
    return this.#ready;
  }

  get project() {
    return this.#project;
  }

  get recent() {
    return this.#recent;
  }

  get datasets() {
    return this.#datasets;
  }

  get models() {
    return this.#models;
  }

  get jobs() {
    return this.#jobs;
  }

  /** The desktop app: files are chosen in the system's dialogs, not typed. */
  get nativeDialogs() {
    return this.#nativeDialogs;
  }

  get provider() {
    return this.#provider;
  }

  get datasetId() {
    return this.#datasetId;
  }

  get modelId() {
    return this.#modelId;
  }

  get filters() {
    return this.#filters;
  }

  get selectedIndex() {
    return this.#selectedIndex;
  }

  get openImageId() {
    return this.#openImageId;
  }

  get panel() {
    return this.#panel;
  }

  get choosingProject() {
    return this.#choosingProject;
  }

  get toasts() {
    return this.#toasts;
  }

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
      imageIds: f.imageIds ?? undefined,
    };
  });

  async init(): Promise<void> {
    this.api.on('job.updated', (job) => this.onJob(job));
    this.api.on('project.changed', (summary) => {
      if (summary?.path !== this.project?.path) thumbnails.clear();
      this.#project = summary;
      void this.refresh();
    });
    await this.attempt(async () => {
      const [project, recent] = await Promise.all([
        this.api.call('projects.current'),
        this.api.call('projects.recent'),
      ]);
      this.#recent = recent;
      this.#project = project;
      if (project) await this.refresh();
    });
    this.#ready = true;
  }

  async refresh(): Promise<void> {
    if (!this.project) return;
    await this.attempt(async () => {
      const [datasets, models, jobs, info, project] = await Promise.all([
        this.api.call('datasets.list'),
        this.api.call('models.list'),
        this.api.call('jobs.list'),
        this.api.call('app.info'),
        this.api.call('projects.current'),
      ]);
      this.#datasets = datasets;
      this.#models = models;
      this.#jobs = jobs;
      this.#provider = info.providers;
      this.#nativeDialogs = info.nativeDialogs;
      this.#project = project;
      if (this.modelId === null || !models.some((m) => m.id === this.modelId)) this.#modelId = models[0]?.id ?? null;
      if (this.datasetId === null || !datasets.some((d) => d.id === this.datasetId))
        this.chooseDataset(datasets[0]?.id ?? null);
    });
  }

  async openDemo(demo: DemoName = 'fashion-mnist'): Promise<void> {
    await this.attempt(async () => this.switchTo(await this.api.call('projects.openDemo', { demo })));
  }

  async openProject(path: string): Promise<void> {
    await this.attempt(async () => this.switchTo(await this.api.call('projects.open', { path })));
  }

  async createProject(path: string): Promise<void> {
    await this.attempt(async () => this.switchTo(await this.api.call('projects.create', { path })));
  }

  async addModel(path: string, manifestPath?: string): Promise<void> {
    await this.attempt(async () => {
      const model = await this.api.call('models.add', { path, manifestPath: manifestPath || undefined });
      this.notify('info', `Model "${model.name}" registered`);
      await this.refresh();
      this.#modelId = model.id;
    });
  }

  /**
   * Each dataset has its own filters (class names, splits and confidence mean nothing in another), kept
   * in this browser per project and dataset, so they come back after a reload.
   */
  chooseDataset(datasetId: number | null): void {
    this.#datasetId = datasetId;
    this.#openImageId = null;
    this.#filters = datasetId === null ? { ...NO_FILTERS } : this.storedFilters(datasetId);
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
    this.#filters = { ...NO_FILTERS, sort: this.filters.sort, trueClass, predictedClass };
    this.#panel = 'none';
  }

  resetFilters(): void {
    this.#filters = { ...NO_FILTERS };
  }

  /** A path from the system's open or save dialog (null when cancelled or refused). */
  async pickPath(mode: 'open', purpose: OpenPurpose): Promise<string | null>;
  async pickPath(mode: 'save', purpose: SavePurpose, defaultName?: string): Promise<string | null>;
  async pickPath(
    mode: 'open' | 'save',
    purpose: OpenPurpose | SavePurpose,
    defaultName?: string,
  ): Promise<string | null> {
    let path: string | null = null;
    await this.attempt(async () => {
      path = (
        mode === 'open'
          ? await this.api.call('dialogs.open', { purpose: purpose as OpenPurpose })
          : await this.api.call('dialogs.save', { purpose: purpose as SavePurpose, defaultName })
      ).path;
    });
    return path;
  }

  /** Opens a panel ('none' closes whichever is open). */
  showPanel(panel: Panel): void {
    this.#panel = panel;
  }

  /** Opens the panel, or closes it when it is the one open. */
  togglePanel(panel: Panel): void {
    this.#panel = this.#panel === panel ? 'none' : panel;
  }

  /** Shows one image in the image panel (null closes it). */
  openImage(imageId: number | null): void {
    this.#openImageId = imageId;
  }

  /** The grid's keyboard selection (-1: none). */
  select(index: number): void {
    this.#selectedIndex = index;
  }

  chooseModel(modelId: number | null): void {
    this.#modelId = modelId;
  }

  /** Changes some of the filters; the others stay. */
  setFilters(patch: Partial<Filters>): void {
    this.#filters = { ...this.#filters, ...patch };
  }

  /** Back from the start view to the open project. */
  stopChoosingProject(): void {
    this.#choosingProject = false;
  }

  notify(kind: Toast['kind'], text: string): void {
    const toast = { id: ++this.toastId, kind, text };
    this.#toasts = [...this.toasts, toast];
    setTimeout(() => this.dismiss(toast.id), kind === 'error' ? 12_000 : 4_000);
  }

  dismiss(id: number): void {
    this.#toasts = this.toasts.filter((toast) => toast.id !== id);
  }

  async chooseProject(): Promise<void> {
    await this.attempt(async () => {
      this.#recent = await this.api.call('projects.recent');
      this.#choosingProject = true;
    });
  }

  private async switchTo(project: ProjectSummary): Promise<void> {
    if (project.readOnly)
      this.notify(
        'info',
        `${project.name} is open read-only: you can browse and explain it, but nothing can be saved to it.`,
      );
    thumbnails.clear(); // image ids belong to a project
    this.#choosingProject = false;
    this.#project = project;
    this.chooseDataset(null);
    this.#modelId = null;
    await this.refresh();
  }

  private onJob(job: Job): void {
    const others = this.jobs.filter((other) => other.id !== job.id);
    this.#jobs = [job, ...others].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
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
