import type { Migration } from './types.ts';

/**
 * Labelling (src-main/labels/). Annotators are project-wide profiles. A session snapshots everything
 * its tasks show: the images it judges (`label_images`, addressed by an opaque id) and the maps of its
 * items (`label_items`), so a session keeps working when caches are cleared and travels whole in an
 * annotator pack. A seat is one annotator's place in a session (crowd seats get their annotator when
 * someone joins); tasks deal items to seats. Rows that other projects may hold too (packs, merges)
 * carry a uuid, which is what merging matches on. An answer row is written in its own transaction
 * before the client is told; `revision` counts changes after a task was reopened.
 */
export const labels: Migration = {
  version: 5,
  name: 'labels',
  sql: `
    CREATE TABLE annotators (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN ('analyst', 'participant')),
      created_at TEXT NOT NULL
    );

    CREATE TABLE label_sessions (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      -- JSON: the request it was built from plus the model's name, hash and classes
      config TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('open', 'paused', 'ended')),
      created_at TEXT NOT NULL
    );

    CREATE TABLE label_images (
      session_id INTEGER NOT NULL REFERENCES label_sessions(id) ON DELETE CASCADE,
      -- the project image it was copied from (no foreign key: a pack has no dataset)
      image_id INTEGER NOT NULL,
      opaque TEXT NOT NULL UNIQUE,
      mime TEXT NOT NULL,
      bytes BLOB NOT NULL,
      width INTEGER NOT NULL,
      height INTEGER NOT NULL,
      true_class TEXT,
      predicted_class TEXT,
      confidence REAL,
      PRIMARY KEY (session_id, image_id)
    );

    CREATE TABLE label_items (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      session_id INTEGER NOT NULL REFERENCES label_sessions(id) ON DELETE CASCADE,
      task_type TEXT NOT NULL,
      image_id INTEGER NOT NULL,
      -- JSON [{kind, method, layer, params, targetClass, modelHash, ref}], one per map
      explanations TEXT NOT NULL,
      -- structured clone of [{width, height, map: Float32Array}]
      maps BLOB NOT NULL,
      -- JSON of the known answer of a gold item, NULL otherwise
      gold TEXT
    );
    CREATE INDEX label_items_session ON label_items(session_id);

    CREATE TABLE label_seats (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      session_id INTEGER NOT NULL REFERENCES label_sessions(id) ON DELETE CASCADE,
      seat_index INTEGER NOT NULL,
      annotator_id INTEGER REFERENCES annotators(id),
      -- sha256 of a crowd participant's resume token
      token_hash TEXT UNIQUE,
      state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'removed')),
      tutorial_done INTEGER NOT NULL DEFAULT 0,
      leaderboard INTEGER NOT NULL DEFAULT 0,
      UNIQUE (session_id, seat_index)
    );
    CREATE UNIQUE INDEX label_seats_one_per_annotator ON label_seats(session_id, annotator_id) WHERE annotator_id IS NOT NULL;

    CREATE TABLE label_tasks (
      id INTEGER PRIMARY KEY,
      uuid TEXT NOT NULL UNIQUE,
      seat_id INTEGER NOT NULL REFERENCES label_seats(id) ON DELETE CASCADE,
      item_id INTEGER NOT NULL REFERENCES label_items(id) ON DELETE CASCADE,
      position INTEGER NOT NULL,
      -- the highest reveal step shown (reveal tasks), -1 before the first
      revealed INTEGER NOT NULL DEFAULT -1,
      UNIQUE (seat_id, item_id),
      UNIQUE (seat_id, position)
    );

    CREATE TABLE label_answers (
      task_id INTEGER PRIMARY KEY REFERENCES label_tasks(id) ON DELETE CASCADE,
      annotator_id INTEGER NOT NULL REFERENCES annotators(id),
      answer TEXT NOT NULL,
      -- gold items: 1 when the answer matches the known one, 0 otherwise; NULL for other items
      correct INTEGER,
      -- reveal game: the paper's label score; NULL for other task types
      score REAL,
      points REAL NOT NULL,
      revision INTEGER NOT NULL DEFAULT 1,
      origin TEXT NOT NULL,
      shown_at TEXT,
      answered_at TEXT NOT NULL,
      revised_at TEXT
    );
    CREATE INDEX label_answers_time ON label_answers(answered_at);

    CREATE TABLE label_merges (
      pack_uuid TEXT NOT NULL,
      session_uuid TEXT NOT NULL,
      merged_at TEXT NOT NULL,
      report TEXT NOT NULL
    );
  `,
};
