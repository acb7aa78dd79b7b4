import type { Migration } from './types.ts';

/**
 * Results of a bundle's generative explainers (DXAI decompositions, CAE paths, InfoDisent components),
 * one row per explainer key (a hash of the model files they come from), image, kind and request
 * parameters; `result` is the structured-clone serialisation of the worker's result (typed arrays stay
 * compact) and `overlay` the image-sized map the grid can draw over a thumbnail. Dataset indexes hold
 * what one pass over a dataset yields (class-code map, InfoDisent prototypes from the project's images).
 */
export const generative: Migration = {
  version: 4,
  name: 'generative',
  sql: `
    CREATE TABLE generative_results (
      explainer_key TEXT NOT NULL,
      image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      kind TEXT NOT NULL,
      params TEXT NOT NULL,
      result BLOB NOT NULL,
      overlay BLOB NOT NULL,
      overlay_width INTEGER NOT NULL,
      overlay_height INTEGER NOT NULL,
      created_at TEXT NOT NULL,
      PRIMARY KEY (explainer_key, kind, params, image_id)
    );
    CREATE INDEX generative_results_image ON generative_results(image_id);

    CREATE TABLE dataset_indexes (
      explainer_key TEXT NOT NULL,
      dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
      kind TEXT NOT NULL,
      variant TEXT NOT NULL,
      payload BLOB NOT NULL,
      created_at TEXT NOT NULL,
      PRIMARY KEY (explainer_key, dataset_id, kind, variant)
    );
  `,
};
