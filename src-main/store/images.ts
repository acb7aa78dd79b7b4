import type { ImageDetail, ImageRow, ParsedRequest } from '../../src-shared/contract.ts';
import { prepared, type Db } from './open.ts';

export interface NewImage {
  source: string;
  className: string | null;
  split: string | null;
  width: number;
  height: number;
  channels: number;
  contentHash: string;
  byteSize: number;
  filePath: string | null;
  pixels: Uint8Array | null;
  thumbnail: { size: number; png: Uint8Array };
}

export interface NewIssue {
  source: string;
  code: string;
  message: string;
}

export interface StoredImage {
  id: number;
  width: number;
  height: number;
  channels: number;
  filePath: string | null;
  pixels: Buffer | null;
  className: string | null;
  /** sha256 of the file as imported (of the pixels, for images without a file). */
  contentHash: string;
}

type ImageQuery = ParsedRequest<'images.list'>;

export class ImageRepository {
  constructor(private readonly db: Db) {}

  /**
   * Writes one chunk of an import in one transaction. A source already in the dataset is ignored,
   * so re-importing the same source adds no duplicates; an issue for a source replaces the older one,
   * and a source that now imports clears its old issue.
   */
  insertChunk(datasetId: number, images: readonly NewImage[], issues: readonly NewIssue[]): { added: number } {
    const insertImage = this.db.prepare(
      `INSERT OR IGNORE INTO images
         (dataset_id, source, class_name, split, width, height, channels, content_hash, byte_size, file_path, pixels)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertThumb = this.db.prepare('INSERT OR REPLACE INTO thumbnails (image_id, size, png) VALUES (?, ?, ?)');
    const insertIssue = this.db.prepare(
      'INSERT OR REPLACE INTO import_issues (dataset_id, source, code, message, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    const clearIssue = this.db.prepare('DELETE FROM import_issues WHERE dataset_id = ? AND source = ?');
    let added = 0;
    this.db.transaction(() => {
      for (const image of images) {
        const info = insertImage.run(
          datasetId,
          image.source,
          image.className,
          image.split,
          image.width,
          image.height,
          image.channels,
          image.contentHash,
          image.byteSize,
          image.filePath,
          image.pixels,
        );
        if (info.changes === 0) continue;
        added += 1;
        insertThumb.run(info.lastInsertRowid, image.thumbnail.size, image.thumbnail.png);
        clearIssue.run(datasetId, image.source);
      }
      const now = new Date().toISOString();
      for (const issue of issues) insertIssue.run(datasetId, issue.source, issue.code, issue.message, now);
    })();
    return { added };
  }

  knownSources(datasetId: number): Set<string> {
    const rows = this.db.prepare('SELECT source FROM images WHERE dataset_id = ?').raw().all(datasetId) as Array<
      [string]
    >;
    return new Set(rows.map((row) => row[0]));
  }

  count(datasetId?: number): number {
    const row = (
      datasetId === undefined
        ? this.db.prepare('SELECT count(*) AS n FROM images').get()
        : this.db.prepare('SELECT count(*) AS n FROM images WHERE dataset_id = ?').get(datasetId)
    ) as { n: number };
    return row.n;
  }

  thumbnail(imageId: number): Buffer | undefined {
    const row = this.db.prepare('SELECT png FROM thumbnails WHERE image_id = ?').get(imageId) as
      { png: Buffer } | undefined;
    return row?.png;
  }

  /** Thumbnails of many images in one query; ids without one are absent from the map. */
  thumbnails(imageIds: readonly number[]): Map<number, Buffer> {
    const rows = this.db
      .prepare('SELECT image_id AS id, png FROM thumbnails WHERE image_id IN (SELECT value FROM json_each(?))')
      .all(JSON.stringify(imageIds)) as Array<{ id: number; png: Buffer }>;
    return new Map(rows.map((row) => [row.id, row.png]));
  }

  /** Whether the project holds an image with this id (without reading its pixels). */
  has(imageId: number): boolean {
    return prepared(this.db, 'SELECT 1 FROM images WHERE id = ?').get(imageId) !== undefined;
  }

  stored(imageId: number): StoredImage | undefined {
    return prepared(
      this.db,
      'SELECT id, width, height, channels, file_path AS filePath, pixels, class_name AS className, content_hash AS contentHash FROM images WHERE id = ?',
    ).get(imageId) as StoredImage | undefined;
  }

  /** Every image of a dataset in id order with its class name (null when unlabelled). */
  classNames(datasetId: number): { ids: number[]; names: (string | null)[] } {
    const rows = this.db
      .prepare('SELECT id, class_name AS name FROM images WHERE dataset_id = ? ORDER BY id')
      .all(datasetId) as { id: number; name: string | null }[];
    return { ids: rows.map((row) => row.id), names: rows.map((row) => row.name) };
  }

  /** Every image of a dataset in id order with its class name and split (null where it has none). */
  labelsAndSplits(datasetId: number): Map<number, { className: string | null; split: string | null }> {
    const rows = this.db
      .prepare('SELECT id, class_name AS className, split FROM images WHERE dataset_id = ? ORDER BY id')
      .all(datasetId) as { id: number; className: string | null; split: string | null }[];
    return new Map(rows.map(({ id, ...row }) => [id, row]));
  }

  /**
   * Image ids of a dataset in id order, in pages, for jobs that walk a whole dataset; with
   * `withoutPredictionOf`, only the images that model has not classified yet (a resumed inference).
   */
  *idsInPages(datasetId: number, pageSize: number, withoutPredictionOf?: number): Generator<number[]> {
    const page =
      withoutPredictionOf === undefined
        ? this.db.prepare('SELECT id FROM images WHERE dataset_id = ? AND id > ? ORDER BY id LIMIT ?').pluck()
        : this.db
            .prepare(
              'SELECT id FROM images i WHERE dataset_id = ? AND id > ? AND NOT EXISTS (SELECT 1 FROM predictions p WHERE p.model_id = ? AND p.image_id = i.id) ORDER BY id LIMIT ?',
            )
            .pluck();
    let after = 0;
    for (;;) {
      const ids = (
        withoutPredictionOf === undefined
          ? page.all(datasetId, after, pageSize)
          : page.all(datasetId, after, withoutPredictionOf, pageSize)
      ) as number[];
      if (ids.length === 0) return;
      yield ids;
      after = ids[ids.length - 1]!;
    }
  }

  detail(imageId: number): Omit<ImageDetail, 'prediction'> | undefined {
    return this.db
      .prepare(
        `SELECT id, dataset_id AS datasetId, source, class_name AS className, split, width, height, channels,
                content_hash AS contentHash, byte_size AS byteSize
         FROM images WHERE id = ?`,
      )
      .get(imageId) as Omit<ImageDetail, 'prediction'> | undefined;
  }

  /**
   * The filtered, sorted page the dataset browser shows, and the total that matches. The ordered ids
   * of a query are computed once and cached (a grid scrolling through 70,000 images asks for a page
   * every few frames; re-sorting and OFFSET-scanning for each cost 100-200 ms). The cache key holds
   * SQLite's change counters, so any write, by this connection or a worker's, invalidates it.
   */
  query(query: ImageQuery): { total: number; items: ImageRow[] } {
    const ids = this.orderedIds(query);
    const pageIds = Array.from(ids.subarray(query.offset, query.offset + query.limit));
    if (pageIds.length === 0) return { total: ids.length, items: [] };
    const rows = this.db
      .prepare(
        `SELECT i.id, i.class_name AS className, p.predicted_class AS predictedClass, p.confidence
         FROM images i LEFT JOIN predictions p ON p.image_id = i.id AND p.model_id = ?
         WHERE i.id IN (SELECT value FROM json_each(?))`,
      )
      .all(query.modelId ?? -1, JSON.stringify(pageIds)) as ImageRow[];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return { total: ids.length, items: pageIds.map((id) => byId.get(id)!).filter(Boolean) };
  }

  private readonly idCache = new Map<string, Int32Array>();

  /** Every id the query matches, in its order (a selection to work on as one job). */
  matchingIds(query: Omit<ImageQuery, 'offset' | 'limit'>): Int32Array {
    return this.orderedIds({ ...query, offset: 0, limit: 1 });
  }

  private orderedIds(query: ImageQuery): Int32Array {
    const { offset: _offset, limit: _limit, ...filters } = query;
    const version = `${this.db.pragma('data_version', { simple: true })}/${this.db.prepare('SELECT total_changes()').pluck().get() as number}`;
    const key = `${version}:${JSON.stringify(filters)}`;
    const cached = this.idCache.get(key);
    if (cached) return cached;
    const ids = Int32Array.from(this.selectIds(filters));
    if (this.idCache.size >= 8) this.idCache.delete(this.idCache.keys().next().value!);
    this.idCache.set(key, ids);
    return ids;
  }

  private selectIds(query: Omit<ImageQuery, 'offset' | 'limit'>): number[] {
    const where: string[] = ['i.dataset_id = @datasetId'];
    const params: Record<string, unknown> = { datasetId: query.datasetId, modelId: query.modelId ?? -1 };
    if (query.trueClass !== undefined) {
      where.push('i.class_name = @trueClass');
      params.trueClass = query.trueClass;
    }
    if (query.split !== undefined) {
      where.push('i.split = @split');
      params.split = query.split;
    }
    if (query.imageIds !== undefined) {
      where.push('i.id IN (SELECT value FROM json_each(@imageIds))');
      params.imageIds = JSON.stringify(query.imageIds);
    }
    const filtersOnPrediction =
      query.predictedClass !== undefined ||
      query.correctness !== 'all' ||
      query.confidenceMin > 0 ||
      query.confidenceMax < 1;
    // Without a model there are no predictions, so a prediction filter matches nothing.
    if (filtersOnPrediction && query.modelId === undefined) return [];
    if (query.predictedClass !== undefined) {
      where.push('p.predicted_class = @predictedClass');
      params.predictedClass = query.predictedClass;
    }
    if (query.correctness === 'correct') where.push('p.predicted_class = i.class_name');
    if (query.correctness === 'wrong') where.push('p.predicted_class <> i.class_name');
    if (query.confidenceMin > 0) {
      where.push('p.confidence >= @confidenceMin');
      params.confidenceMin = query.confidenceMin;
    }
    if (query.confidenceMax < 1) {
      where.push('p.confidence <= @confidenceMax');
      params.confidenceMax = query.confidenceMax;
    }
    const needsPrediction = filtersOnPrediction || query.sort.startsWith('confidence');
    const join = needsPrediction
      ? `${filtersOnPrediction ? 'JOIN' : 'LEFT JOIN'} predictions p ON p.image_id = i.id AND p.model_id = @modelId`
      : '';
    const order = {
      id: 'i.id',
      class: 'i.class_name, i.id',
      'confidence-asc': 'p.confidence ASC, i.id',
      'confidence-desc': 'p.confidence DESC, i.id',
    }[query.sort];
    return this.db
      .prepare(`SELECT i.id FROM images i ${join} WHERE ${where.join(' AND ')} ORDER BY ${order}`)
      .pluck()
      .all(params) as number[];
  }
}
