/**
 * An open project: its database connection and one repository per aggregate. The main process holds
 * one of these; workers open their own connection to the same file.
 */
import { basename, extname } from 'node:path';
import type { ProjectSummary } from '../../src-shared/contract.ts';
import { AggregateRepository } from './aggregate.ts';
import { DatasetRepository } from './datasets.ts';
import { ExplanationRepository } from './explanations.ts';
import { GenerativeRepository } from './generative.ts';
import { ImageRepository } from './images.ts';
import { LayerClusterRepository } from './layer-clusters.ts';
import { JobRepository } from './jobs.ts';
import { LabelRepository } from './labels.ts';
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
  readonly aggregate: AggregateRepository;

  private constructor(
    readonly path: string,
    readonly db: Db,
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
    this.aggregate = new AggregateRepository(db);
  }

  static create(path: string, name?: string): Project {
    const project = new Project(path, openDatabase(path, { create: true }));
    project.setMeta('name', name ?? basename(path, extname(path)));
    project.setMeta('created_at', new Date().toISOString());
    return project;
  }

  static open(path: string, options: OpenOptions = {}): Project {
    return new Project(path, openDatabase(path, options));
  }

  get name(): string {
    return this.meta('name') ?? basename(this.path, extname(this.path));
  }

  meta(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM project WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO project (key, value) VALUES (?, ?)').run(key, value);
  }

  summary(): ProjectSummary {
    return {
      path: this.path,
      name: this.name,
      schemaVersion: schemaVersion(this.db),
      datasets: this.datasets.count(),
      images: this.images.count(),
      models: this.models.count(),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
