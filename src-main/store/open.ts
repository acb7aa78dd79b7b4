/**
 * Opening a project file. Policy: WAL journal with synchronous=FULL, so that a write the user was told
 * succeeded survives a crash or kill a moment later; foreign keys on; a busy timeout because import
 * workers write through their own connections; trusted_schema off, and the schema guard
 * (schema-guard.ts) before any other statement, because a project file may come from another desktop.
 * A file written by a newer version is refused before anything touches it; a file that is not a
 * workstation project is refused by name. Results the app can compute again (explanation maps,
 * generative results, layer clusters) are written with `cacheTransaction`: synchronous=NORMAL for that
 * commit, which keeps the file consistent but does not wait for the disk (a crash may lose the last of
 * them, never anything else; the next FULL commit syncs them with it). That fsync was a third of a
 * single Grad-CAM call on a small model.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import Database from 'better-sqlite3';
import { ApiError } from '../../src-shared/errors.ts';
import { LATEST_VERSION, MIGRATIONS, type Migration } from './migrations/index.ts';
import { guardSchema } from './schema-guard.ts';

export type Db = Database.Database;

const APPLICATION_ID = 0x78616977; // "xaiw"

export interface OpenOptions {
  create?: boolean;
  migrations?: readonly Migration[];
  readonly?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Db {
  const exists = existsSync(path);
  if (!exists && !options.create) {
    throw new ApiError('project_not_found', `No project file at ${path}`);
  }
  if (exists && options.create) {
    throw new ApiError(
      'project_exists',
      `A file already exists at ${path}; open it instead of creating a project there`,
    );
  }
  let db: Db;
  try {
    // Under Electron, better-sqlite3 needs a build for Electron's ABI (scripts/fetch-electron.mjs makes
    // one); app/main.ts names it here. Node (CLI, host, tests) uses the package's own build.
    const nativeBinding = process.env.XAIWS_SQLITE_BINDING || undefined;
    db = new Database(path, { readonly: options.readonly ?? false, nativeBinding });
  } catch (error) {
    const message = (error as Error).message;
    if (/NODE_MODULE_VERSION|was compiled against a different/.test(message)) {
      throw new ApiError(
        'internal',
        `better-sqlite3 is built for another runtime than this one (${message.split('\n')[0]}). For the Electron window run npm run electron:fetch, which builds it for Electron.`,
      );
    }
    throw new ApiError('project_corrupt', `Cannot open ${path} as a project: ${message}`, undefined, error);
  }
  try {
    db.pragma('busy_timeout = 10000');
    db.pragma('trusted_schema = OFF');
    const applicationId = readPragmaNumber(db, 'application_id', path);
    const version = readPragmaNumber(db, 'user_version', path);
    if (exists && applicationId !== APPLICATION_ID && !(applicationId === 0 && version === 0 && isEmpty(db))) {
      throw new ApiError(
        'project_corrupt',
        `${path} is not an XAI Workstation project (application id ${applicationId})`,
      );
    }
    const migrations = options.migrations ?? MIGRATIONS;
    const latest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
    if (version > latest) {
      throw new ApiError(
        'project_too_new',
        `${basename(path)} was written by a newer version of XAI Workstation (schema ${version}; this version knows up to ${latest}). Update the app to open it; the file was not changed.`,
      );
    }
    if (exists) guardSchema(db, version, migrations, basename(path));
    if (options.readonly && version < latest && exists) {
      throw new ApiError(
        'project_read_only',
        `${basename(path)} was written by an older version of XAI Workstation (schema ${version}) and must be upgraded, but it cannot be changed (it is read-only). Open a writable copy.`,
      );
    }
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db, version, migrations);
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * `fn` as one transaction that does not wait for the disk: for rows that are a cache of computations,
 * never for what a user entered or was told is saved.
 */
export function cacheTransaction<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return fn();
  prepared(db, 'PRAGMA synchronous = NORMAL').run();
  try {
    return db.transaction(fn)();
  } finally {
    prepared(db, 'PRAGMA synchronous = FULL').run();
  }
}

const statements = new WeakMap<Db, Map<string, Database.Statement>>();

/**
 * One prepared statement per connection and text, for the statements of single-image calls (compiling
 * the SQL again each time was a tenth of a 2-ms call). Not for statements that are iterated: a statement
 * is busy until its iterator ends.
 */
export function prepared(db: Db, sql: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let statement = cache.get(sql);
  if (!statement) cache.set(sql, (statement = db.prepare(sql)));
  return statement;
}

function readPragmaNumber(db: Db, name: string, path: string): number {
  try {
    return db.pragma(name, { simple: true }) as number;
  } catch (error) {
    throw new ApiError(
      'project_corrupt',
      `${path} is not a readable project file: ${(error as Error).message}`,
      undefined,
      error,
    );
  }
}

function isEmpty(db: Db): boolean {
  const row = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
  return row.n === 0;
}

function migrate(db: Db, from: number, migrations: readonly Migration[]): void {
  const pending = migrations.filter((m) => m.version > from).sort((a, b) => a.version - b.version);
  for (const migration of pending) {
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export { LATEST_VERSION };
