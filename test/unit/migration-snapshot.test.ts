/**
 * The migration guard: a shipped migration never changes (a project file made by an earlier version
 * would silently differ from one made now, and the schema guard would refuse it). The checked-in
 * snapshot (src-main/store/migrations/snapshot.json) holds each migration's SQL hash and the schema
 * they create; a new migration is added to it with scripts/snapshot-migrations.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrationSnapshot, type MigrationSnapshot } from '../support/migration-snapshot.ts';
import { ROOT } from '../support/host.ts';

const shipped = JSON.parse(
  readFileSync(join(ROOT, 'src-main/store/migrations/snapshot.json'), 'utf8'),
) as MigrationSnapshot;

describe('shipped migrations', () => {
  const now = migrationSnapshot();

  it.each(shipped.migrations.map((m) => [m.version, m] as const))(
    'migration %i is unchanged since it shipped',
    (version, migration) => {
      const current = now.migrations.find((m) => m.version === version);
      expect(current, `migration ${version} (${migration.name}) was removed`).toBeDefined();
      expect(
        current!.sha256,
        `migration ${version} (${migration.name}) changed after it shipped: add a new migration instead`,
      ).toBe(migration.sha256);
    },
  );

  it('are all in the snapshot, in order, and create the schema it records', () => {
    expect(
      now.migrations.map((m) => m.version),
      'a new migration: record it with scripts/snapshot-migrations.ts',
    ).toEqual(shipped.migrations.map((m) => m.version));
    expect(now.schema).toEqual(shipped.schema);
  });
});
