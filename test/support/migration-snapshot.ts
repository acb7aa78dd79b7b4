/** The migrations as shipped: each one's SQL hash, and the schema all of them create (sqlite_master, sorted). */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src-main/store/migrations/index.ts';

export interface MigrationSnapshot {
  migrations: { version: number; name: string; sha256: string }[];
  schema: string[];
}

export function migrationSnapshot(): MigrationSnapshot {
  const memory = new Database(':memory:');
  try {
    for (const migration of MIGRATIONS) memory.exec(migration.sql);
    const rows = memory
      .prepare(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
      )
      .all() as { type: string; name: string; sql: string | null }[];
    return {
      migrations: MIGRATIONS.map(({ version, name, sql }) => ({
        version,
        name,
        sha256: createHash('sha256').update(sql).digest('hex'),
      })),
      schema: rows.map((row) => `${row.type} ${row.name}: ${(row.sql ?? '').replace(/\s+/g, ' ')}`),
    };
  } finally {
    memory.close();
  }
}
