/** Layer-wise clustered feature maps (migration 0003): one run per image, model file and class. */
import type { ClusteredLayer, LayerwiseExplanation } from '../../src-shared/contract.ts';
import { fromBlob, toBlob } from './blobs.ts';
import { cacheTransaction, type Db } from './open.ts';

/** What the store keeps of one layer-wise run (the CAM engine's LayerwiseResult has this shape). */
export interface LayerwiseRun {
  target: number;
  logits: Float32Array;
  layers: {
    layer: { name: string; shape: number[] };
    clusters: {
      thresholdPercent: number;
      weights: Float64Array;
      points: unknown[];
      k: number;
      silhouette: number | null;
      clusters: { index: number; weight: number; kept: boolean; channels: number[]; map: Float32Array }[];
    };
  }[];
}

export interface RunKey {
  modelHash: string;
  imageId: number;
  requestedClass: number;
  params: string;
}

type StoredRun = Omit<LayerwiseExplanation, 'targetClass' | 'cached'>;

const placeholders = (count: number) => new Array(count).fill('?').join(',');

export class LayerClusterRepository {
  constructor(private readonly db: Db) {}

  /** How many kept clusters the model's runs have, on how many images. */
  keptCount(modelHash: string): { n: number; images: number } {
    return this.db
      .prepare(
        'SELECT count(*) AS n, count(DISTINCT r.image_id) AS images FROM feature_clusters c JOIN layer_cluster_runs r ON r.id = c.run_id WHERE r.model_hash = ? AND c.kept = 1',
      )
      .get(modelHash) as { n: number; images: number };
  }

  /** Per image of `imageIds` (at most a few hundred), how many kept clusters its runs have. */
  keptCountsByImage(modelHash: string, imageIds: readonly number[]): { imageId: number; n: number }[] {
    return this.db
      .prepare(
        `SELECT r.image_id AS imageId, count(*) AS n FROM feature_clusters c JOIN layer_cluster_runs r ON r.id = c.run_id WHERE r.model_hash = ? AND c.kept = 1 AND r.image_id IN (${placeholders(imageIds.length)}) GROUP BY r.image_id`,
      )
      .all(modelHash, ...imageIds) as { imageId: number; n: number }[];
  }

  /** Every kept cluster of the model's runs on `imageIds` (at most a few hundred), heaviest first per layer. */
  keptClusters(modelHash: string, imageIds: readonly number[]) {
    const rows = this.db
      .prepare(
        `SELECT c.id, r.image_id AS imageId, r.target_class AS targetClass, r.params, l.layer, l.width, l.height, c.cluster_index AS clusterIndex, c.weight, c.map
         FROM feature_clusters c JOIN layer_cluster_runs r ON r.id = c.run_id
         JOIN layer_cluster_layers l ON l.run_id = c.run_id AND l.layer_index = c.layer_index
         WHERE r.model_hash = ? AND c.kept = 1 AND r.image_id IN (${placeholders(imageIds.length)})
         ORDER BY r.image_id, c.layer_index, c.weight DESC`,
      )
      .all(modelHash, ...imageIds) as {
      id: number;
      imageId: number;
      targetClass: number;
      params: string;
      layer: string;
      width: number;
      height: number;
      clusterIndex: number;
      weight: number;
      map: Buffer;
    }[];
    return rows.map((row) => ({ ...row, map: fromBlob(row.map) }));
  }

  save(key: RunKey, result: LayerwiseRun): number {
    return cacheTransaction(this.db, () => {
      this.db
        .prepare(
          'DELETE FROM layer_cluster_runs WHERE model_hash = ? AND image_id = ? AND requested_class = ? AND params = ?',
        )
        .run(key.modelHash, key.imageId, key.requestedClass, key.params);
      const run = this.db
        .prepare(
          'INSERT INTO layer_cluster_runs (model_hash, image_id, requested_class, params, target_class, logits, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          key.modelHash,
          key.imageId,
          key.requestedClass,
          key.params,
          result.target,
          toBlob(result.logits),
          new Date().toISOString(),
        );
      const runId = Number(run.lastInsertRowid);
      const layer = this.db.prepare(
        `INSERT INTO layer_cluster_layers (run_id, layer_index, layer, channels, height, width, threshold_percent, weights, points, k, silhouette)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const cluster = this.db.prepare(
        'INSERT INTO feature_clusters (run_id, layer_index, cluster_index, weight, kept, channels, map) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      result.layers.forEach(({ layer: info, clusters }, index) => {
        const [channels, height, width] = info.shape as [number, number, number];
        layer.run(
          runId,
          index,
          info.name,
          channels,
          height,
          width,
          clusters.thresholdPercent,
          toBlob(Float32Array.from(clusters.weights)),
          JSON.stringify(clusters.points),
          clusters.k,
          clusters.silhouette,
        );
        for (const c of clusters.clusters)
          cluster.run(runId, index, c.index, c.weight, c.kept ? 1 : 0, JSON.stringify(c.channels), toBlob(c.map));
      });
      return runId;
    });
  }

  find(key: RunKey): StoredRun | undefined {
    const run = this.db
      .prepare(
        'SELECT id, target_class AS target FROM layer_cluster_runs WHERE model_hash = ? AND image_id = ? AND requested_class = ? AND params = ?',
      )
      .get(key.modelHash, key.imageId, key.requestedClass, key.params) as { id: number; target: number } | undefined;
    if (!run) return undefined;
    const layers = this.db
      .prepare(
        'SELECT layer_index AS layerIndex, layer, channels, height, width, threshold_percent AS thresholdPercent, points, k, silhouette FROM layer_cluster_layers WHERE run_id = ? ORDER BY layer_index',
      )
      .all(run.id) as {
      layerIndex: number;
      layer: string;
      channels: number;
      height: number;
      width: number;
      thresholdPercent: number;
      points: string;
      k: number;
      silhouette: number | null;
    }[];
    const clusters = this.db
      .prepare(
        'SELECT id, layer_index AS layerIndex, cluster_index AS clusterIndex, weight, kept, channels, map FROM feature_clusters WHERE run_id = ? ORDER BY layer_index, cluster_index',
      )
      .all(run.id) as {
      id: number;
      layerIndex: number;
      clusterIndex: number;
      weight: number;
      kept: number;
      channels: string;
      map: Buffer;
    }[];
    return {
      runId: run.id,
      imageId: key.imageId,
      target: run.target,
      layers: layers.map((l): ClusteredLayer => {
        const points = JSON.parse(l.points) as ClusteredLayer['points'];
        return {
          layer: l.layer,
          shape: [l.channels, l.height, l.width],
          thresholdPercent: l.thresholdPercent,
          keptMaps: points.length,
          k: l.k,
          silhouette: l.silhouette,
          points,
          clusters: clusters
            .filter((c) => c.layerIndex === l.layerIndex)
            .map((c) => ({
              id: c.id,
              index: c.clusterIndex,
              weight: c.weight,
              kept: c.kept === 1,
              channels: JSON.parse(c.channels) as number[],
              map: Array.from(fromBlob(c.map)),
            })),
        };
      }),
    };
  }
}
