/** Cached explanation maps (see migration 0002). Writes go in one transaction per batch. */
import { fromBlob, toBlob } from './blobs.ts';
import { cacheTransaction, prepared, type Db } from './open.ts';

export interface ExplanationKey {
  modelHash: string;
  imageId: number;
  method: string;
  layer: string;
  requestedClass: number;
  params: string;
}

export interface StoredExplanation extends ExplanationKey {
  targetClass: number;
  height: number;
  width: number;
  map: Float32Array;
  logits: Float32Array;
}

interface Row {
  targetClass: number;
  height: number;
  width: number;
  map: Buffer;
  logits: Buffer;
}

const placeholders = (count: number) => new Array(count).fill('?').join(',');

export class ExplanationRepository {
  constructor(private readonly db: Db) {}

  get(key: ExplanationKey): StoredExplanation | undefined {
    const row = prepared(
      this.db,
      `SELECT target_class AS targetClass, height, width, map, logits FROM explanations
       WHERE model_hash = ? AND image_id = ? AND method = ? AND layer = ? AND requested_class = ? AND params = ?`,
    ).get(key.modelHash, key.imageId, key.method, key.layer, key.requestedClass, key.params) as Row | undefined;
    return (
      row && {
        ...key,
        targetClass: row.targetClass,
        height: row.height,
        width: row.width,
        map: fromBlob(row.map),
        logits: fromBlob(row.logits),
      }
    );
  }

  /** Image ids among `imageIds` that have no cached map for this key (without its image id). */
  missing(key: Omit<ExplanationKey, 'imageId'>, imageIds: number[]): number[] {
    const has = this.db.prepare(
      'SELECT 1 FROM explanations WHERE model_hash = ? AND image_id = ? AND method = ? AND layer = ? AND requested_class = ? AND params = ?',
    );
    return imageIds.filter(
      (imageId) => !has.get(key.modelHash, imageId, key.method, key.layer, key.requestedClass, key.params),
    );
  }

  putMany(rows: StoredExplanation[]): void {
    const insert = prepared(
      this.db,
      `INSERT OR REPLACE INTO explanations
       (model_hash, image_id, method, layer, requested_class, params, target_class, height, width, map, logits, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = new Date().toISOString();
    cacheTransaction(this.db, () => {
      for (const r of rows)
        insert.run(
          r.modelHash,
          r.imageId,
          r.method,
          r.layer,
          r.requestedClass,
          r.params,
          r.targetClass,
          r.height,
          r.width,
          toBlob(r.map),
          toBlob(r.logits),
          now,
        );
    });
  }

  count(modelHash?: string): number {
    const row = (
      modelHash
        ? this.db.prepare('SELECT count(*) AS n FROM explanations WHERE model_hash = ?').get(modelHash)
        : this.db.prepare('SELECT count(*) AS n FROM explanations').get()
    ) as { n: number };
    return row.n;
  }

  /** Method, layer and requested class of the maps cached for a model file, with how many images each covers. */
  variants(modelHash: string): { method: string; layer: string; requestedClass: number; count: number }[] {
    return this.db
      .prepare(
        `SELECT method, layer, requested_class AS requestedClass, count(*) AS count FROM explanations WHERE model_hash = ? AND params = '{}'
         GROUP BY method, layer, requested_class ORDER BY method, layer, requested_class`,
      )
      .all(modelHash) as { method: string; layer: string; requestedClass: number; count: number }[];
  }

  /** The cached maps of one variant for the given images (those that have one). */
  maps(
    modelHash: string,
    variant: { method: string; layer: string; requestedClass: number },
    imageIds: number[],
  ): { imageId: number; width: number; height: number; map: Float32Array }[] {
    const get = this.db.prepare(
      `SELECT width, height, map FROM explanations WHERE model_hash = ? AND image_id = ? AND method = ? AND layer = ? AND requested_class = ? AND params = '{}'`,
    );
    return imageIds.flatMap((imageId) => {
      const row = get.get(modelHash, imageId, variant.method, variant.layer, variant.requestedClass) as
        { width: number; height: number; map: Buffer } | undefined;
      return row ? [{ imageId, width: row.width, height: row.height, map: fromBlob(row.map) }] : [];
    });
  }

  /** Every cached map of one image under a model file. */
  forImage(modelHash: string, imageId: number): StoredExplanation[] {
    const rows = this.db
      .prepare(
        `SELECT method, layer, requested_class AS requestedClass, params, target_class AS targetClass, height, width, map, logits FROM explanations WHERE model_hash = ? AND image_id = ? ORDER BY method, layer`,
      )
      .all(modelHash, imageId) as (Row & { method: string; layer: string; requestedClass: number; params: string })[];
    return rows.map((row) => ({ ...row, modelHash, imageId, map: fromBlob(row.map), logits: fromBlob(row.logits) }));
  }

  /** Per image of `imageIds` (at most a few hundred), how many default-parameter maps of this variant it has. */
  countsByImage(
    modelHash: string,
    variant: { method: string; layer: string; requestedClass: number },
    imageIds: readonly number[],
  ): { imageId: number; n: number }[] {
    return this.db
      .prepare(
        `SELECT image_id AS imageId, count(*) AS n FROM explanations WHERE model_hash = ? AND method = ? AND layer = ? AND requested_class = ? AND params = '{}' AND image_id IN (${placeholders(imageIds.length)}) GROUP BY image_id`,
      )
      .all(modelHash, variant.method, variant.layer, variant.requestedClass, ...imageIds) as {
      imageId: number;
      n: number;
    }[];
  }

  /** The default-parameter maps of this variant for `imageIds` (at most a few hundred), with their row ids. */
  mapsOf(
    modelHash: string,
    variant: { method: string; layer: string; requestedClass: number },
    imageIds: readonly number[],
  ) {
    const rows = this.db
      .prepare(
        `SELECT id, image_id AS imageId, target_class AS targetClass, width, height, map FROM explanations
         WHERE model_hash = ? AND method = ? AND layer = ? AND requested_class = ? AND params = '{}' AND image_id IN (${placeholders(imageIds.length)})`,
      )
      .all(modelHash, variant.method, variant.layer, variant.requestedClass, ...imageIds) as {
      id: number;
      imageId: number;
      targetClass: number;
      width: number;
      height: number;
      map: Buffer;
    }[];
    return rows.map((row) => ({ ...row, map: fromBlob(row.map) }));
  }
}
