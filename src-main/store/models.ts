import { Manifest, type Model } from '../../src-shared/contract.ts';
import type { Db } from './open.ts';

interface ModelRow {
  id: number;
  name: string;
  path: string;
  fileHash: string;
  manifest: string;
  addedAt: string;
}

export class ModelRepository {
  constructor(private readonly db: Db) {}

  /** Registers a model; the same file (by hash) registered twice returns the first registration. */
  add(path: string, fileHash: string, manifest: Manifest): Model {
    const existing = this.db.prepare('SELECT id FROM models WHERE file_hash = ?').get(fileHash) as { id: number } | undefined;
    if (existing) {
      this.db.prepare('UPDATE models SET path = ?, manifest = ?, name = ? WHERE id = ?').run(path, JSON.stringify(manifest), manifest.name, existing.id);
      return this.get(existing.id)!;
    }
    const info = this.db
      .prepare('INSERT INTO models (name, path, file_hash, manifest, added_at) VALUES (?, ?, ?, ?, ?)')
      .run(manifest.name, path, fileHash, JSON.stringify(manifest), new Date().toISOString());
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): Model | undefined {
    const row = this.db
      .prepare('SELECT id, name, path, file_hash AS fileHash, manifest, added_at AS addedAt FROM models WHERE id = ?')
      .get(id) as ModelRow | undefined;
    return row && toModel(row);
  }

  list(): Model[] {
    const rows = this.db
      .prepare('SELECT id, name, path, file_hash AS fileHash, manifest, added_at AS addedAt FROM models ORDER BY id')
      .all() as ModelRow[];
    return rows.map(toModel);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM models').get() as { n: number }).n;
  }
}

function toModel(row: ModelRow): Model {
  return { ...row, manifest: Manifest.parse(JSON.parse(row.manifest)) };
}
