import type { Migration } from './types.ts';

/**
 * Global explanations: the analyst's edits of concept clusters (rename, merge, split), kept as
 * operations on label terms and replayed in order over each new clustering; and the faithfulness
 * metrics of the maps people labelled (deletion and insertion AUC, ROAD, and the sanity check's
 * Spearman similarity to the map of the fully randomised model), one row per model file, image,
 * method, layer and explained class, so the method ranking does not recompute them.
 */
export const aggregate: Migration = {
  version: 6,
  name: 'aggregate',
  sql: `
    CREATE TABLE concept_edits (
      id INTEGER PRIMARY KEY,
      edit TEXT NOT NULL,
      created_at TEXT NOT NULL
    );
    CREATE TABLE faithfulness (
      model_hash TEXT NOT NULL,
      image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      method TEXT NOT NULL,
      layer TEXT NOT NULL,
      target_class INTEGER NOT NULL,
      steps INTEGER NOT NULL,
      deletion REAL NOT NULL,
      insertion REAL NOT NULL,
      road REAL NOT NULL,
      sanity REAL,
      created_at TEXT NOT NULL,
      PRIMARY KEY (model_hash, image_id, method, layer, target_class)
    );
  `,
};
