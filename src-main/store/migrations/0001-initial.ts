import type { Migration } from './types.ts';

export const initial: Migration = {
  version: 1,
  name: 'initial',
  sql: `
    CREATE TABLE project (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );

    CREATE TABLE datasets (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      source TEXT NOT NULL UNIQUE,
      kind TEXT NOT NULL CHECK (kind IN ('folder', 'idx', 'csv')),
      -- JSON list of class names in the source's own order (IDX label order); null: natural sort.
      class_order TEXT,
      created_at TEXT NOT NULL
    );

    -- An image's pixels stay in its file when it has one (file_path); sources without files of their
    -- own (IDX) keep the decoded pixels here (pixels, row-major, channels interleaved).
    CREATE TABLE images (
      id INTEGER PRIMARY KEY,
      dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
      source TEXT NOT NULL,
      class_name TEXT,
      split TEXT,
      width INTEGER NOT NULL,
      height INTEGER NOT NULL,
      channels INTEGER NOT NULL,
      content_hash TEXT NOT NULL,
      byte_size INTEGER NOT NULL,
      file_path TEXT,
      pixels BLOB,
      CHECK ((file_path IS NULL) <> (pixels IS NULL)),
      UNIQUE (dataset_id, source)
    );
    CREATE INDEX images_by_class ON images (dataset_id, class_name);
    CREATE INDEX images_by_hash ON images (content_hash);

    CREATE TABLE thumbnails (
      image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
      size INTEGER NOT NULL,
      png BLOB NOT NULL
    );

    CREATE TABLE import_issues (
      id INTEGER PRIMARY KEY,
      dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
      source TEXT NOT NULL,
      code TEXT NOT NULL,
      message TEXT NOT NULL,
      created_at TEXT NOT NULL,
      UNIQUE (dataset_id, source)
    );

    CREATE TABLE models (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      path TEXT NOT NULL,
      file_hash TEXT NOT NULL UNIQUE,
      manifest TEXT NOT NULL,
      added_at TEXT NOT NULL
    );

    -- One row per image and model: the arg-max and its probability for filtering and sorting, and
    -- the full logits and probabilities as float32 blobs (class order of the model's manifest).
    CREATE TABLE predictions (
      model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
      image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      predicted_index INTEGER NOT NULL,
      predicted_class TEXT NOT NULL,
      confidence REAL NOT NULL,
      logits BLOB,
      probabilities BLOB NOT NULL,
      PRIMARY KEY (model_id, image_id)
    ) WITHOUT ROWID;
    CREATE INDEX predictions_by_class ON predictions (model_id, predicted_class, confidence);

    CREATE TABLE jobs (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
      title TEXT NOT NULL,
      params TEXT NOT NULL,
      stage TEXT NOT NULL DEFAULT '',
      done INTEGER NOT NULL DEFAULT 0,
      total INTEGER NOT NULL DEFAULT 0,
      result TEXT,
      error TEXT,
      created_at TEXT NOT NULL,
      finished_at TEXT
    );
  `,
};
