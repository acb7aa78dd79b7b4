import type { Dataset, ImportIssue } from '../../src-shared/contract.ts';
import type { Db } from './open.ts';

export type DatasetKind = Dataset['kind'];

export class DatasetRepository {
  constructor(private readonly db: Db) {}

  /** The dataset of a source, created on first import; a re-import reuses it. */
  ensure(source: string, kind: DatasetKind, name: string): number {
    const existing = this.db.prepare('SELECT id FROM datasets WHERE source = ?').get(source) as
      { id: number } | undefined;
    if (existing) return existing.id;
    const info = this.db
      .prepare('INSERT INTO datasets (name, source, kind, created_at) VALUES (?, ?, ?, ?)')
      .run(name, source, kind, new Date().toISOString());
    return Number(info.lastInsertRowid);
  }

  list(): Dataset[] {
    return this.rows().map((row) => ({ ...row, classes: this.classes(row.id), splits: this.splits(row.id) }));
  }

  get(id: number): Dataset | undefined {
    const row = this.rows(id)[0];
    return row && { ...row, classes: this.classes(row.id), splits: this.splits(row.id) };
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM datasets').pluck().get() as number;
  }

  private rows(id?: number): Array<Omit<Dataset, 'classes' | 'splits'>> {
    return this.db
      .prepare(
        `SELECT d.id, d.name, d.source, d.kind,
                (SELECT count(*) FROM images i WHERE i.dataset_id = d.id) AS images,
                (SELECT count(*) FROM import_issues x WHERE x.dataset_id = d.id) AS issues
         FROM datasets d WHERE @id IS NULL OR d.id = @id ORDER BY d.id`,
      )
      .all({ id: id ?? null }) as Array<Omit<Dataset, 'classes' | 'splits'>>;
  }

  /** The dataset's classes: in the source's order where it has one, else naturally sorted. */
  classes(datasetId: number): string[] {
    const names = (
      this.db
        .prepare('SELECT DISTINCT class_name FROM images WHERE dataset_id = ? AND class_name IS NOT NULL')
        .pluck()
        .all(datasetId) as string[]
    ).sort(naturalCompare);
    const stored = this.db.prepare('SELECT class_order FROM datasets WHERE id = ?').pluck().get(datasetId) as
      string | null | undefined;
    if (!stored) return names;
    const order = (JSON.parse(stored) as string[]).filter((name) => names.includes(name));
    return [...order, ...names.filter((name) => !order.includes(name))];
  }

  setClassOrder(datasetId: number, names: readonly string[]): void {
    this.db.prepare('UPDATE datasets SET class_order = ? WHERE id = ?').run(JSON.stringify(names), datasetId);
  }

  splits(datasetId: number): string[] {
    const rows = this.db
      .prepare('SELECT DISTINCT split FROM images WHERE dataset_id = ? AND split IS NOT NULL ORDER BY split')
      .all(datasetId) as Array<{ split: string }>;
    return rows.map((row) => row.split);
  }

  issues(datasetId: number): ImportIssue[] {
    return this.db
      .prepare('SELECT source, code, message FROM import_issues WHERE dataset_id = ? ORDER BY id')
      .all(datasetId) as ImportIssue[];
  }
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b);
}
