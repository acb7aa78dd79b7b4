import { Manifest, type Model } from '../../src-shared/contract.ts';
import { ApiError } from '../../src-shared/errors.ts';
import { prepared, type Db } from './open.ts';

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

  /**
   * Registers a model. The same file (by hash) with the same manifest is the registration it already
   * has, now at the path it was given (its explainer bundle is the one beside that path); with another
   * manifest it is refused by name, because the caches and sessions of the first registration describe
   * that manifest's classes and preprocessing.
   */
  add(path: string, fileHash: string, manifest: Manifest): Model {
    const existing = this.db.prepare('SELECT id FROM models WHERE file_hash = ?').get(fileHash) as
      { id: number } | undefined;
    if (existing) {
      const model = this.get(existing.id)!;
      const differs = (Object.keys(manifest) as (keyof Manifest)[])
        .concat(Object.keys(model.manifest) as (keyof Manifest)[])
        .filter(
          (key, i, all) =>
            all.indexOf(key) === i && JSON.stringify(manifest[key]) !== JSON.stringify(model.manifest[key]),
        );
      if (differs.length > 0) {
        throw new ApiError(
          'model_exists',
          `This model file is already registered as "${model.name}" (from ${model.path}) with another manifest: ${differs.join(', ')} ${differs.length === 1 ? 'differs' : 'differ'}. A model file is registered once per project; its caches and sessions describe that manifest, so it was not changed.`,
        );
      }
      if (model.path !== path) this.db.prepare('UPDATE models SET path = ? WHERE id = ?').run(path, existing.id);
      return this.get(existing.id)!;
    }
    const info = this.db
      .prepare('INSERT INTO models (name, path, file_hash, manifest, added_at) VALUES (?, ?, ?, ?, ?)')
      .run(manifest.name, path, fileHash, JSON.stringify(manifest), new Date().toISOString());
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): Model | undefined {
    const row = prepared(
      this.db,
      'SELECT id, name, path, file_hash AS fileHash, manifest, added_at AS addedAt FROM models WHERE id = ?',
    ).get(id) as ModelRow | undefined;
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

/**
 * Manifests as stored, already checked, by their text: a model is read for every call that names it,
 * and checking its manifest again was a twentieth of a single-image Grad-CAM call. Callers share one
 * frozen object.
 */
const manifests = new Map<string, Manifest>();
const MANIFESTS_KEPT = 64;

function toModel(row: ModelRow): Model {
  let manifest = manifests.get(row.manifest);
  if (!manifest) {
    manifest = deepFreeze(Manifest.parse(JSON.parse(row.manifest)));
    if (manifests.size >= MANIFESTS_KEPT) manifests.clear();
    manifests.set(row.manifest, manifest);
  }
  return { ...row, manifest };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
