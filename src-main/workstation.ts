/**
 * The workstation's state in one process: the open project, its job registry, the inference pool,
 * the recent-projects list, and the event fan-out to every connected client. The API router, the
 * CLI, the browser host and Electron all drive the same instance.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import {
  methods,
  type EventName,
  type DemoName,
  type EventPayload,
  type Model,
  type ProjectSummary,
  type RecentProject,
} from '../src-shared/contract.ts';
import { ApiError } from '../src-shared/errors.ts';
import { importTask } from './datasets/import-job.ts';
import { inferenceTask } from './inference/inference-job.ts';
import { Crowds, type CrowdHost } from './labels/crowds.ts';
import { completeDemo, demoAt, demoPath, DEMOS } from './services/demos.ts';
import type { Context, DialogRuntime, ImageWorker, PdfPrinter } from './runtime/context.ts';
import { printWithChromium } from './aggregate/report.ts';
import { JobRegistry } from './runtime/jobs.ts';
import { Project, readOnlyError } from './store/project.ts';
import { InferencePool } from './workers/inference-pool.ts';
import { WorkerClient } from './workers/client.ts';
import type { ImageProtocol } from './workers/protocols.ts';

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
  /** Hosts LAN sessions for crowd participants (transport/crowd.ts's startCrowd); without it none can open. */
  crowdHost?: CrowdHost;
  /** The system's file dialogs (the desktop app only). */
  dialogs?: DialogRuntime;
  /** How reports become PDFs: Electron's printToPDF in the app; headless Chromium otherwise. */
  printPdf?: PdfPrinter;
}

type Listener = <E extends EventName>(event: E, payload: EventPayload<E>) => void;

export class Workstation implements Context {
  readonly pool: InferencePool;
  readonly images: ImageWorker = new WorkerClient<ImageProtocol>({ name: 'image-worker', title: 'image worker' });
  readonly crowds: Crowds;
  readonly dialogs: DialogRuntime | null;
  readonly printPdf: PdfPrinter;
  private current: { project: Project; jobs: JobRegistry } | null = null;
  private readonly listeners = new Set<Listener>();

  constructor(readonly options: WorkstationOptions) {
    this.pool = new InferencePool(options.poolSize ?? 1, undefined, {
      memoryLimitMb: options.workerMemoryMb,
      cacheDir: this.cacheDir,
    });
    const rendererDir = options.rendererDir ?? join(dirname(resolve(options.resourcesDir)), 'out', 'renderer');
    this.dialogs = options.dialogs ?? null;
    this.printPdf = options.printPdf ?? printWithChromium;
    this.crowds = new Crowds(
      () => this.project,
      this.images,
      rendererDir,
      (sessionId) => this.emit('labels.changed', { sessionId }),
      options.crowdHost,
    );
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

  get cacheDir(): string {
    return this.options.cacheDir ?? process.env.XAIWS_CACHE ?? join(homedir(), '.cache', 'xaiws');
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
   * Opens a bundled demo project, creating it on first use (services/demos.ts). The first start creates
   * every demo's project file, so the colour benchmark waits in the recent list beside Fashion-MNIST;
   * each fills when it opens.
   */
  async openDemo(demo: DemoName = 'fashion-mnist'): Promise<ProjectSummary> {
    const path = demoPath(this.options.dataDir, demo);
    if (!existsSync(path)) this.createOtherDemos(demo);
    return existsSync(path) ? this.openProject(path) : this.createProject(path, DEMOS[demo].name);
  }

  private createOtherDemos(opening: DemoName): void {
    for (const demo of Object.keys(DEMOS) as DemoName[]) {
      const path = demoPath(this.options.dataDir, demo);
      if (demo === opening || existsSync(path)) continue;
      try {
        mkdirSync(dirname(path), { recursive: true });
        const project = Project.create(path, DEMOS[demo].name);
        this.remember(project);
        project.close();
      } catch {
        // A demo that cannot be created now is created when it is opened.
      }
    }
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

  /**
   * Interrupted jobs that can go on where they stopped do so, as the same job: an import adds only
   * what is missing, an inference classifies only the images without a prediction. The others stay
   * interrupted, offered again in the Jobs panel (`retryJob`). A stored request is checked against
   * the contract like any request before it runs again.
   */
  private resumeInterrupted(): void {
    for (const job of this.jobs.interrupted) {
      try {
        const params = this.project.jobs.params(job.id);
        if (job.kind === 'import') {
          const request = methods['datasets.import'].request.parse(params);
          this.jobs.resume(job.id, importTask(this.project.path, request));
        } else if (job.kind === 'inference') {
          const { modelId, datasetId, batchSize } = methods['inference.run'].request.parse(params);
          if (!this.project.datasets.get(datasetId)) continue;
          this.jobs.resume(
            job.id,
            inferenceTask(this.project, this.pool, this.model(modelId), datasetId, batchSize, true),
          );
        }
      } catch {
        // A job that cannot be resumed (its model or dataset is gone, its request is not valid) stays interrupted.
      }
    }
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
    await this.crowds.closeAll();
    await jobs.cancelAll();
    project.close();
  }

  async shutdown(): Promise<void> {
    await this.closeProject();
    await Promise.all([this.pool.close(), this.images.close()]);
  }

  /** A write refused because the project is read-only, in words (the router's answer to SQLITE_READONLY). */
  readOnlyError(): ApiError | null {
    return this.current?.project.readOnly ? readOnlyError(this.current.project) : null;
  }

  private async activate(project: Project): Promise<ProjectSummary> {
    await this.closeProject();
    const jobs = new JobRegistry(project, (job) => this.emit('job.updated', job));
    this.current = { project, jobs };
    this.remember(project);
    // The app and the browser host go on with interrupted work and fill a demo; a CLI command does its one thing.
    if (this.options.transport !== 'cli') {
      this.resumeInterrupted();
      const demo = demoAt(this.options.dataDir, project.origin);
      if (demo && !project.readOnly) await completeDemo(this, demo);
    }
    const summary = project.summary();
    this.emit('project.changed', summary);
    return summary;
  }

  private remember(project: Project): void {
    const file = join(this.options.dataDir, 'recent.json');
    const entry = { path: project.origin, name: project.name, openedAt: new Date().toISOString() };
    const list = [entry, ...this.recent().filter((other) => other.path !== project.origin)].slice(0, 12);
    try {
      mkdirSync(this.options.dataDir, { recursive: true });
      writeFileSync(file, JSON.stringify(list, null, 2));
    } catch {
      // The recent list is a convenience; a read-only home must not stop a project from opening.
    }
  }
}
