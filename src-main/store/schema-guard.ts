/**
 * The schema guard: a project file holds exactly the tables and indexes this app's migrations create,
 * for the schema version the file claims, and nothing else. A file from another desktop (a project,
 * an annotator pack) could carry a trigger that rewrites rows when the app writes, a view standing in
 * for a table (an endless query that freezes whoever reads it), or a table whose constraints were
 * loosened; such a file is refused before any of its SQL runs. SQLite's own tables (sqlite_*) are not
 * compared: they hold no code.
 */
import Database from 'better-sqlite3';
import { ApiError } from '../../src-shared/errors.ts';
import type { Migration } from './migrations/types.ts';

type Db = Database.Database;

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

const SCHEMA_QUERY =
  "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name";
const expected = new WeakMap<readonly Migration[], Map<number, Map<string, string>>>();

const key = (row: SchemaRow) => `${row.type} "${row.name}"`;

/** What the migrations up to `version` create, by object: its SQL exactly as SQLite keeps it. */
function expectedSchema(migrations: readonly Migration[], version: number): Map<string, string> {
  const byVersion = expected.get(migrations) ?? expected.set(migrations, new Map()).get(migrations)!;
  let schema = byVersion.get(version);
  if (!schema) {
    const memory = new Database(':memory:');
    try {
      for (const migration of [...migrations].filter((m) => m.version <= version).sort((a, b) => a.version - b.version))
        memory.exec(migration.sql);
      schema = new Map(
        (memory.prepare(SCHEMA_QUERY).all() as SchemaRow[]).map((row) => [
          key(row),
          `${row.tbl_name}\n${row.sql ?? ''}`,
        ]),
      );
    } finally {
      memory.close();
    }
    byVersion.set(version, schema);
  }
  return schema;
}

/** Throws `project_untrusted`, naming every object the file has that the app did not create (or changed). */
export function guardSchema(db: Db, version: number, migrations: readonly Migration[], label: string): void {
  const wanted = expectedSchema(migrations, version);
  const found = db.prepare(SCHEMA_QUERY).all() as SchemaRow[];
  const foreign = found
    .filter((row) => wanted.get(key(row)) !== `${row.tbl_name}\n${row.sql ?? ''}`)
    .map((row) => (wanted.has(key(row)) ? `${key(row)} (changed)` : key(row)));
  if (foreign.length === 0) return;
  const shown = foreign.slice(0, 8).join(', ') + (foreign.length > 8 ? ` and ${foreign.length - 8} more` : '');
  throw new ApiError(
    'project_untrusted',
    `${label} holds schema objects XAI Workstation did not create: ${shown}. It was not opened, so none of its SQL ran; open only project files and packs written by the workstation.`,
    { objects: foreign },
  );
}
