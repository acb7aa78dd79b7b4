/**
 * The one context every service gets: what the workstation holds for one process (the open project,
 * its jobs, the inference pool, the crowd hosts, the event fan-out). Handlers pass it on unchanged:
 * `(ctx, request) => service(ctx, request)`. The Workstation (workstation.ts) implements it; tests may
 * hand in any object that does.
 */
import type {
  DemoName,
  EventName,
  EventPayload,
  Model,
  OpenPurpose,
  ProjectSummary,
  RecentProject,
  SavePurpose,
} from '../../src-shared/contract.ts';
import type { ApiError } from '../../src-shared/errors.ts';
import type { JobRegistry } from './jobs.ts';
import type { Project } from '../store/project.ts';
import type { InferencePool } from '../workers/inference-pool.ts';
import type { WorkerClient } from '../workers/client.ts';
import type { ImageProtocol } from '../workers/protocols.ts';

/** The image worker: every decode of an image people look at (workers/image.ts). */
export type ImageWorker = WorkerClient<ImageProtocol>;

export interface CrowdInfo {
  url: string;
  code: string;
  qrSvg: string;
}

/** The crowd hosts of the open project's sessions (labels/crowds.ts). */
export interface CrowdRuntime {
  info(sessionId: number): CrowdInfo | null;
  open(sessionId: number, host?: string, port?: number): Promise<CrowdInfo>;
  close(sessionId: number): Promise<boolean>;
  closeAll(): Promise<void>;
}

/** The system's file dialogs (the desktop app; app/dialogs.ts). */
export interface DialogRuntime {
  open(purpose: OpenPurpose): Promise<string | null>;
  save(purpose: SavePurpose, defaultName?: string): Promise<string | null>;
}

/** Prints an HTML document to a PDF file and returns its path. */
export type PdfPrinter = (html: string, pdfPath: string) => Promise<string>;

export interface Context {
  readonly options: { transport: 'ipc' | 'host' | 'cli'; dataDir: string; resourcesDir: string };
  /** The open project; `no_project` when none is. */
  readonly project: Project;
  readonly hasProject: boolean;
  /** The open project's jobs; `no_project` when none is. */
  readonly jobs: JobRegistry;
  readonly pool: InferencePool;
  readonly images: ImageWorker;
  readonly crowds: CrowdRuntime;
  /** Null outside the desktop app: the browser host and the CLI take typed paths. */
  readonly dialogs: DialogRuntime | null;
  readonly printPdf: PdfPrinter;
  /** Caches that outlive a project (the word-vector table). */
  readonly cacheDir: string;
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void;
  /** A model of the open project; `model_not_found` when it has none with this id. */
  model(modelId: number): Model;
  createProject(path: string, name?: string): Promise<ProjectSummary>;
  openProject(path: string): Promise<ProjectSummary>;
  openDemo(demo?: DemoName): Promise<ProjectSummary>;
  recent(): RecentProject[];
  /** A write refused because the project is read-only, in words (the router's answer to SQLITE_READONLY). */
  readOnlyError(): ApiError | null;
}

/** The open project, the pool and one of its models: what the model-scoped services work on. */
export interface ModelScope {
  project: Project;
  pool: InferencePool;
  images: ImageWorker;
  model: Model;
}

export function modelScope(ctx: Context, modelId: number): ModelScope {
  return { project: ctx.project, pool: ctx.pool, images: ctx.images, model: ctx.model(modelId) };
}
