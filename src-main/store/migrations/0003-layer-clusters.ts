import type { Migration } from './types.ts';

/**
 * Layer-wise clustered feature maps of one image (see src-main/explain/layers/clusters.ts). A run is
 * one image, model file and requested class; per conv layer its statistics and t-SNE points; per
 * cluster a stable id (`feature_clusters.id`), which labels refer to.
 */
export const layerClusters: Migration = {
  version: 3,
  name: 'layer-clusters',
  sql: `
    CREATE TABLE layer_cluster_runs (
      id INTEGER PRIMARY KEY,
      model_hash TEXT NOT NULL,
      image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      requested_class INTEGER NOT NULL,
      params TEXT NOT NULL DEFAULT '{}',
      target_class INTEGER NOT NULL,
      logits BLOB NOT NULL,
      created_at TEXT NOT NULL,
      UNIQUE (model_hash, image_id, requested_class, params)
    );

    CREATE TABLE layer_cluster_layers (
      run_id INTEGER NOT NULL REFERENCES layer_cluster_runs(id) ON DELETE CASCADE,
      layer_index INTEGER NOT NULL,
      layer TEXT NOT NULL,
      channels INTEGER NOT NULL,
      height INTEGER NOT NULL,
      width INTEGER NOT NULL,
      threshold_percent REAL NOT NULL,
      -- float32 per channel, % of the layer total
      weights BLOB NOT NULL,
      -- JSON [{channel, x, y, cluster}] for the kept maps
      points TEXT NOT NULL,
      k INTEGER NOT NULL,
      silhouette REAL,
      PRIMARY KEY (run_id, layer_index)
    );

    CREATE TABLE feature_clusters (
      id INTEGER PRIMARY KEY,
      run_id INTEGER NOT NULL REFERENCES layer_cluster_runs(id) ON DELETE CASCADE,
      layer_index INTEGER NOT NULL,
      cluster_index INTEGER NOT NULL,
      weight REAL NOT NULL,
      kept INTEGER NOT NULL CHECK (kept IN (0, 1)),
      -- JSON list of channel indices
      channels TEXT NOT NULL,
      -- float32 [h * w] in [0, 1]
      map BLOB NOT NULL,
      UNIQUE (run_id, layer_index, cluster_index)
    );
  `,
};
