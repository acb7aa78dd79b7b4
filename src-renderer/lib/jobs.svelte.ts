/**
 * Long work from the renderer: imports, inference and the selection jobs over the images the current
 * filters match, and cancelling or re-running a job. Each returns at once (the job runs in main); the
 * Jobs panel opens on it, and a refusal becomes a toast.
 */
import type { CamMethodName, Smoothing, XaiApi } from '../../src-shared/contract.ts';
import type { GenerativeKind } from '../../src-shared/schemas/generative.ts';
import { api as defaultApi } from './api.ts';
import { workspace as defaultWorkspace, type Workspace } from './workspace.svelte.ts';

export class JobActions {
  constructor(
    private readonly workspace: Workspace = defaultWorkspace,
    private readonly api: XaiApi = defaultApi,
  ) {}

  async importSource(source: string): Promise<void> {
    await this.attempt(async () => {
      await this.api.call('datasets.import', { source });
      this.workspace.showPanel('jobs');
    });
  }

  async runInference(): Promise<void> {
    if (this.workspace.modelId === null || this.workspace.datasetId === null) return;
    const [modelId, datasetId] = [this.workspace.modelId, this.workspace.datasetId];
    await this.attempt(async () => {
      await this.api.call('inference.run', { modelId, datasetId });
      this.workspace.showPanel('jobs');
    });
  }

  /**
   * Every image the current filters match as one job: explained with one method ('explain.selection')
   * or, for 'explain.metricsSelection', its deletion, insertion and ROAD averaged.
   */
  async startSelectionJob(
    kind: 'explain.selection' | 'explain.metricsSelection',
    method: CamMethodName,
    layer: string,
    target: number,
    smoothing: Smoothing = 'none',
  ): Promise<void> {
    const query = this.workspace.query;
    if (this.workspace.modelId === null || !query || !layer) return;
    const modelId = this.workspace.modelId;
    await this.attempt(async () => {
      await this.api.call(kind, { modelId, method, layer, target, smoothing, query });
      this.workspace.showPanel('jobs');
    });
  }

  /** Decompositions, paths or components of every image the current filters match, as one job. */
  async startGenerativeJob(kinds: GenerativeKind[], target: number, steps?: number): Promise<void> {
    const query = this.workspace.query;
    if (this.workspace.modelId === null || !query) return;
    const modelId = this.workspace.modelId;
    await this.attempt(async () => {
      await this.api.call('generative.selection', { modelId, kinds, target, steps, query });
      this.workspace.showPanel('jobs');
    });
  }

  /**
   * DXAI, CAE and InfoDisent for the current model on the current dataset (the Python toolkit, a job).
   * The view that asked shows the job's progress and previews itself; the Jobs panel stays closed.
   */
  async trainExplainers(steps?: number): Promise<void> {
    if (this.workspace.modelId === null || this.workspace.datasetId === null) return;
    const [modelId, datasetId] = [this.workspace.modelId, this.workspace.datasetId];
    await this.attempt(async () => {
      await this.api.call('explainers.train', { modelId, datasetId, steps });
    });
  }

  /** One pass of the bundle's encoders over the current dataset: class-code map and prototypes. */
  async startIndexJob(projection: 'pca' | 'umap'): Promise<void> {
    if (this.workspace.modelId === null || this.workspace.datasetId === null) return;
    const [modelId, datasetId] = [this.workspace.modelId, this.workspace.datasetId];
    await this.attempt(async () => {
      await this.api.call('generative.index', { modelId, datasetId, projection });
      this.workspace.notify(
        'info',
        `Indexing the dataset (${projection.toUpperCase()}); the views update when it is done`,
      );
    });
  }

  async cancelJob(jobId: string): Promise<void> {
    await this.attempt(async () => void (await this.api.call('jobs.cancel', { jobId })));
  }

  async retryJob(jobId: string): Promise<void> {
    await this.attempt(async () => void (await this.api.call('jobs.retry', { jobId })));
  }

  private async attempt(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.workspace.notify('error', (error as Error).message);
    }
  }
}

export const jobs = new JobActions();
