/**
 * Cached generative explanations and dataset indexes (see migration 0004). Results are stored as
 * structured-clone blobs (node:v8), so typed arrays keep their compact binary form.
 */
import { deserialize, serialize } from 'node:v8';
import { fromBlob, toBlob } from './blobs.ts';
import { cacheTransaction, type Db } from './open.ts';

export interface GenerativeKey {
  explainerKey: string;
  kind: string;
  params: string;
}

export interface StoredGenerative<T> {
  imageId: number;
  result: T;
  overlay: { width: number; height: number; map: Float32Array };
}

const placeholders = (count: number) => new Array(count).fill('?').join(',');

export class GenerativeRepository {
  constructor(private readonly db: Db) {}

  get<T>(key: GenerativeKey, imageId: number): T | undefined {
    const row = this.db
      .prepare(
        'SELECT result FROM generative_results WHERE explainer_key = ? AND kind = ? AND params = ? AND image_id = ?',
      )
      .get(key.explainerKey, key.kind, key.params, imageId) as { result: Buffer } | undefined;
    return row ? (deserialize(row.result) as T) : undefined;
  }

  missing(key: GenerativeKey, imageIds: number[]): number[] {
    const has = this.db.prepare(
      'SELECT 1 FROM generative_results WHERE explainer_key = ? AND kind = ? AND params = ? AND image_id = ?',
    );
    return imageIds.filter((imageId) => !has.get(key.explainerKey, key.kind, key.params, imageId));
  }

  putMany<T>(key: GenerativeKey, rows: StoredGenerative<T>[]): void {
    const insert = this.db.prepare(
      `INSERT OR REPLACE INTO generative_results (explainer_key, image_id, kind, params, result, overlay, overlay_width, overlay_height, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = new Date().toISOString();
    cacheTransaction(this.db, () => {
      for (const row of rows) {
        insert.run(
          key.explainerKey,
          row.imageId,
          key.kind,
          key.params,
          serialize(row.result),
          toBlob(row.overlay.map),
          row.overlay.width,
          row.overlay.height,
          now,
        );
      }
    });
  }

  /** The kinds and parameters with cached results under these explainer keys, with how many images each covers. */
  variants(explainerKeys: string[]): { kind: string; params: string; count: number }[] {
    if (explainerKeys.length === 0) return [];
    return this.db
      .prepare(
        `SELECT kind, params, count(*) AS count FROM generative_results WHERE explainer_key IN (${explainerKeys.map(() => '?').join(',')})
         GROUP BY kind, params ORDER BY kind, params`,
      )
      .all(...explainerKeys) as { kind: string; params: string; count: number }[];
  }

  overlays(
    key: GenerativeKey,
    imageIds: number[],
  ): { imageId: number; width: number; height: number; map: Float32Array }[] {
    const get = this.db.prepare(
      'SELECT overlay, overlay_width AS width, overlay_height AS height FROM generative_results WHERE explainer_key = ? AND kind = ? AND params = ? AND image_id = ?',
    );
    return imageIds.flatMap((imageId) => {
      const row = get.get(key.explainerKey, key.kind, key.params, imageId) as
        { overlay: Buffer; width: number; height: number } | undefined;
      return row ? [{ imageId, width: row.width, height: row.height, map: fromBlob(row.overlay) }] : [];
    });
  }

  getIndex<T>(
    explainerKey: string,
    datasetId: number,
    kind: string,
    variant: string,
  ): { payload: T; createdAt: string } | undefined {
    const row = this.db
      .prepare(
        'SELECT payload, created_at AS createdAt FROM dataset_indexes WHERE explainer_key = ? AND dataset_id = ? AND kind = ? AND variant = ?',
      )
      .get(explainerKey, datasetId, kind, variant) as { payload: Buffer; createdAt: string } | undefined;
    return row && { payload: deserialize(row.payload) as T, createdAt: row.createdAt };
  }

  /** The newest index of this kind for a dataset, whatever its variant. */
  latestIndex<T>(
    explainerKey: string,
    datasetId: number,
    kind: string,
  ): { payload: T; variant: string; createdAt: string } | undefined {
    const row = this.db
      .prepare(
        'SELECT payload, variant, created_at AS createdAt FROM dataset_indexes WHERE explainer_key = ? AND dataset_id = ? AND kind = ? ORDER BY created_at DESC LIMIT 1',
      )
      .get(explainerKey, datasetId, kind) as { payload: Buffer; variant: string; createdAt: string } | undefined;
    return row && { payload: deserialize(row.payload) as T, variant: row.variant, createdAt: row.createdAt };
  }

  /** When the newest index of this kind was made, without reading its payload. */
  latestIndexStamp(
    explainerKey: string,
    datasetId: number,
    kind: string,
  ): { variant: string; createdAt: string } | undefined {
    return this.db
      .prepare(
        'SELECT variant, created_at AS createdAt FROM dataset_indexes WHERE explainer_key = ? AND dataset_id = ? AND kind = ? ORDER BY created_at DESC LIMIT 1',
      )
      .get(explainerKey, datasetId, kind) as { variant: string; createdAt: string } | undefined;
  }

  putIndex(explainerKey: string, datasetId: number, kind: string, variant: string, payload: unknown): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO dataset_indexes (explainer_key, dataset_id, kind, variant, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(explainerKey, datasetId, kind, variant, serialize(payload), new Date().toISOString());
  }

  /** Per image of `imageIds` (at most a few hundred), how many results of this explainer, kind and parameters it has. */
  countsByImage(
    explainerKey: string,
    kind: string,
    params: string,
    imageIds: readonly number[],
  ): { imageId: number; n: number }[] {
    return this.db
      .prepare(
        `SELECT image_id AS imageId, count(*) AS n FROM generative_results WHERE explainer_key = ? AND kind = ? AND params = ? AND image_id IN (${placeholders(imageIds.length)}) GROUP BY image_id`,
      )
      .all(explainerKey, kind, params, ...imageIds) as { imageId: number; n: number }[];
  }
}
