import type { Migration } from './types.ts';

/**
 * Cached explanation maps. A map is identified by the model file's hash (so a changed model never
 * serves old maps), the image, the method, the layer tensor, the requested class (-1: the predicted
 * one) and the method's parameters as canonical JSON. Maps are float32 little-endian at layer resolution.
 */
export const explanations: Migration = {
  version: 2,
  name: 'explanations',
  sql: `
    CREATE TABLE explanations (
      id INTEGER PRIMARY KEY,
      model_hash TEXT NOT NULL,
      image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      method TEXT NOT NULL,
      layer TEXT NOT NULL,
      requested_class INTEGER NOT NULL,
      params TEXT NOT NULL DEFAULT '{}',
      target_class INTEGER NOT NULL,
      height INTEGER NOT NULL,
      width INTEGER NOT NULL,
      map BLOB NOT NULL,
      logits BLOB NOT NULL,
      created_at TEXT NOT NULL,
      UNIQUE (model_hash, image_id, method, layer, requested_class, params)
    );
    CREATE INDEX explanations_by_image ON explanations (image_id);
  `,
};
