/**
 * An open project: its database connection and one repository per aggregate. The main process holds
 * one of these; workers open their own connection to the same file. A project file the user may not
 * write (its permissions, a read-only folder or disk) opens read-only and says so; where SQLite cannot
 * even read it in place (a WAL file in a folder where it may not create its shared-memory file), it is
 * read from a private copy in the temporary folder, and `path` names that copy (workers read it) while
 * `origin` keeps the file the user opened.
 */
import { accessSync, constants, copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { ApiError } from '../../src-shared/errors.ts';
import type { ProjectSummary } from '../../src-shared/contract.ts';
import { AggregateRepository } from './aggregate.ts';
import { DatasetRepository } from './datasets.ts';
import { ExplanationRepository } from './explanations.ts';
import { GenerativeRepository } from './generative.ts';
import { ImageRepository } from './images.ts';
import { LayerClusterRepository } from './layer-clusters.ts';
import { JobRepository } from './jobs.ts';
import { LabelRepository } from './labels.ts';
import { AnswerRepository } from './answers.ts';
import { ModelRepository } from './models.ts';
import { openDatabase, schemaVersion, type Db, type OpenOptions } from './open.ts';
import { PredictionRepository } from './predictions.ts';

export class Project {
  readonly datasets: DatasetRepository;
  readonly images: ImageRepository;
  readonly models: ModelRepository;
  readonly predictions: PredictionRepository;
  readonly jobs: JobRepository;
  readonly explanations: ExplanationRepository;
  readonly layerClusters: LayerClusterRepository;
  readonly generative: GenerativeRepository;
  readonly labels: LabelRepository;
  readonly answers: AnswerRepository;
  readonly aggregate: AggregateRepository;

  private constructor(
    readonly path: string,
    readonly db: Db,
    /** The file the user opened, when `path` is a private copy of it. */
    readonly origin: string = path,
  ) {
    this.datasets = new DatasetRepository(db);
    this.images = new ImageRepository(db);
    this.models = new ModelRepository(db);
    this.predictions = new PredictionRepository(db);
    this.jobs = new JobRepository(db);
    this.explanations = new ExplanationRepository(db);
    this.layerClusters = new LayerClusterRepository(db);
    this.generative = new GenerativeRepository(db);
    this.labels = new LabelRepository(db);
    this.answers = new AnswerRepository(db);
    this.aggregate = new AggregateRepository(db);
  }

  static create(path: string, name?: string): Project {
    const project = new Project(path, openDatabase(path, { create: true }));
    project.setMeta('name', name ?? basename(path, extname(path)));
    project.setMeta('created_at', new Date().toISOString());
    return project;
  }

  static open(path: string, options: OpenOptions = {}): Project {
    if (options.readonly || writable(path)) return new Project(path, openDatabase(path, options));
    try {
      return new Project(path, openDatabase(path, { ...options, readonly: true }));
    } catch (error) {
      const code = (error as { cause?: { code?: string } }).cause?.code ?? '';
      if (!/^SQLITE_(READONLY|CANTOPEN)/.test(code)) throw error;
    }
    // SQLite cannot read this WAL file in place: read a private copy (with its -wal, when there is one).
    const copy = join(mkdtempSync(join(tmpdir(), 'xaiws-read-only-')), basename(path));
    copyFileSync(path, copy);
    if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
    return new Project(copy, openDatabase(copy, { ...options, readonly: true }), path);
  }

  /** True when the project was opened read-only: nothing it holds can change. */
  get readOnly(): boolean {
    return this.db.readonly;
  }

  get name(): string {
    return this.meta('name') ?? basename(this.path, extname(this.path));
  }

  meta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM project WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  /** `fn` as one transaction (services group repository writes with it; only repositories write). */
  transaction<T>(fn: () => T): () => T {
    return this.db.transaction(fn);
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO project (key, value) VALUES (?, ?)').run(key, value);
  }

  summary(): ProjectSummary {
    return {
      path: this.origin,
      readOnly: this.readOnly,
      name: this.name,
      schemaVersion: schemaVersion(this.db),
      datasets: this.datasets.count(),
      images: this.images.count(),
      models: this.models.count(),
    };
  }

  close(): void {
    if (!this.db.open) return;
    if (!this.readOnly) {
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)'); // the file alone is the whole project once closed
      } catch {
        // Another connection still reads: SQLite checkpoints when the last one closes.
      }
    }
    this.db.close();
  }
}

/** Whether this user may change the file and create its journal files beside it. */
function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    accessSync(dirname(path), constants.W_OK);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true; // openDatabase names the missing file
    return false;
  }
}

export function readOnlyError(project: Project): ApiError {
  return new ApiError(
    'project_read_only',
    `${basename(project.origin)} is open read-only (this user may not change the file or its folder); nothing can be saved to it. Copy it to a folder you can write to, or ask for write permission.`,
  );
}
