/**
 * Writes src-main/store/migrations/snapshot.json: every shipped migration's name and the sha256 of its
 * SQL, and the schema all of them create. Run it once when a new migration is added (never to make the
 * guard test accept an edited one): node --import tsx scripts/snapshot-migrations.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationSnapshot } from '../test/support/migration-snapshot.ts';

const path = join(import.meta.dirname, '..', 'src-main', 'store', 'migrations', 'snapshot.json');
writeFileSync(path, `${JSON.stringify(migrationSnapshot(), null, 2)}\n`);
console.log(`wrote ${path}`);
