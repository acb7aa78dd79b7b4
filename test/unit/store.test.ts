import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { LATEST_VERSION, cacheTransaction, openDatabase, prepared } from '../../src-main/store/open.ts';
import { Manifest } from '../../src-shared/contract.ts';
import { Project } from '../../src-main/store/project.ts';
import type { Migration } from '../../src-main/store/migrations/index.ts';
import { tempDir } from '../support/fixtures.ts';

const opened: Project[] = [];
afterEach(() => opened.splice(0).forEach((project) => project.close()));
const track = (project: Project) => (opened.push(project), project);
const hashOf = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('project store', () => {
  it('creates a project with WAL, full sync, foreign keys and the latest schema', () => {
    const path = join(tempDir(), 'a.xaiws');
    const project = track(Project.create(path, 'Study A'));
    expect(project.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(project.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(project.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(project.summary()).toMatchObject({ name: 'Study A', schemaVersion: LATEST_VERSION, datasets: 0, images: 0 });
  });

  it('writes recomputable results without waiting for the disk and goes back to full sync, also after a failure', () => {
    const path = join(tempDir(), 'cache.xaiws');
    const project = track(Project.create(path));
    const datasetId = project.datasets.ensure('/data/x', 'folder', 'x');
    const image = (source: string) => ({
      source,
      className: 'a',
      split: null,
      width: 1,
      height: 1,
      channels: 1,
      contentHash: source,
      byteSize: 1,
      filePath: `/data/x/${source}`,
      pixels: null,
      thumbnail: { size: 64, png: new Uint8Array([1]) },
    });
    project.images.insertChunk(datasetId, [image('a.png'), image('b.png')], []);
    const [first, second] = project.images.matchingIds({
      datasetId,
      correctness: 'all',
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id',
    });
    const seen: number[] = [];
    const row = {
      modelHash: 'm',
      imageId: first!,
      method: 'gradcam',
      layer: 'l',
      requestedClass: -1,
      params: '{}',
      targetClass: 0,
      height: 1,
      width: 1,
      map: Float32Array.of(0.5),
      logits: Float32Array.of(1),
    };
    cacheTransaction(project.db, () => seen.push(project.db.pragma('synchronous', { simple: true }) as number));
    project.explanations.putMany([row]);
    expect(() =>
      cacheTransaction(project.db, () => {
        project.explanations.putMany([{ ...row, imageId: second! }]);
        throw new Error('stop');
      }),
    ).toThrow('stop');
    expect(seen).toEqual([1]);
    expect(project.db.pragma('synchronous', { simple: true })).toBe(2);
    expect(project.explanations.get(row)?.map).toEqual(row.map);
    expect(project.explanations.get({ ...row, imageId: second! })).toBeUndefined(); // rolled back with its transaction
  });

  it('reads a model as registered each time, sharing one checked manifest that no caller can change', () => {
    const project = track(Project.create(join(tempDir(), 'models.xaiws')));
    const manifest = Manifest.parse(
      JSON.parse(readFileSync('resources/models/fashion-mnist-cnn/classifier.manifest.json', 'utf8')),
    );
    const { id } = project.models.add('/models/a.onnx', 'a'.repeat(64), manifest);
    const first = project.models.get(id)!;
    expect(first.manifest).toEqual(manifest);
    expect(() => {
      (first.manifest.classes as string[])[0] = 'Changed';
    }).toThrow(TypeError);
    expect(() => {
      first.manifest.input.width = 1;
    }).toThrow(TypeError);
    expect(project.models.get(id)!.manifest.classes[0]).toBe(manifest.classes[0]);
    project.models.add('/models/b.onnx', 'a'.repeat(64), manifest); // the same file, moved
    expect(project.models.get(id)!.path).toBe('/models/b.onnx');
    // One statement per connection and text; another connection prepares its own.
    expect(prepared(project.db, 'SELECT 1 FROM images WHERE id = ?')).toBe(
      prepared(project.db, 'SELECT 1 FROM images WHERE id = ?'),
    );
    const other = track(Project.open(project.path));
    expect(prepared(other.db, 'SELECT 1 FROM images WHERE id = ?')).not.toBe(
      prepared(project.db, 'SELECT 1 FROM images WHERE id = ?'),
    );
  });

  it('refuses to create over an existing file and to open a missing one', () => {
    const path = join(tempDir(), 'b.xaiws');
    track(Project.create(path));
    expect(() => Project.create(path)).toThrow(expect.objectContaining({ code: 'project_exists' }));
    expect(() => Project.open(join(tempDir(), 'none.xaiws'))).toThrow(
      expect.objectContaining({ code: 'project_not_found' }),
    );
  });

  it('refuses a file from a newer version with a clear message and leaves it unchanged', () => {
    const path = join(tempDir(), 'new.xaiws');
    Project.create(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${LATEST_VERSION + 5}`);
    db.close();
    const before = hashOf(path);
    expect(() => Project.open(path)).toThrow(
      expect.objectContaining({
        code: 'project_too_new',
        message: expect.stringContaining(`schema ${LATEST_VERSION + 5}`),
      }),
    );
    expect(hashOf(path)).toBe(before);
  });

  it('refuses files that are not workstation projects', () => {
    const dir = tempDir();
    const other = join(dir, 'other.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE notes (text TEXT)');
    db.close();
    expect(() => Project.open(other)).toThrow(expect.objectContaining({ code: 'project_corrupt' }));
    const text = join(dir, 'text.xaiws');
    writeFileSync(text, 'not a database at all, just some text that is long enough to have a header '.repeat(10));
    expect(() => Project.open(text)).toThrow(expect.objectContaining({ code: 'project_corrupt' }));
  });

  it('applies numbered migrations in order, each in one transaction with its version', () => {
    const path = join(tempDir(), 'm.xaiws');
    const first: Migration = { version: 1, name: 'one', sql: 'CREATE TABLE t (a INTEGER);' };
    const second: Migration = { version: 2, name: 'two', sql: 'ALTER TABLE t ADD COLUMN b TEXT;' };
    const broken: Migration = {
      version: 3,
      name: 'broken',
      sql: 'ALTER TABLE t ADD COLUMN c TEXT; INSERT INTO nowhere VALUES (1);',
    };
    openDatabase(path, { create: true, migrations: [first] }).close();
    expect(() => openDatabase(path, { migrations: [first, second, broken] })).toThrow(/nowhere/);
    const db = new Database(path);
    // 2 applied; 3 rolled back whole, so column c does not exist.
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect((db.prepare('PRAGMA table_info(t)').all() as Array<{ name: string }>).map((c) => c.name)).toEqual([
      'a',
      'b',
    ]);
    db.close();
  });

  it('keeps foreign keys: images go with their dataset', () => {
    const project = track(Project.create(join(tempDir(), 'fk.xaiws')));
    const datasetId = project.datasets.ensure('/data/x', 'folder', 'x');
    project.images.insertChunk(
      datasetId,
      [
        {
          source: 'a.png',
          className: 'a',
          split: null,
          width: 1,
          height: 1,
          channels: 1,
          contentHash: 'h',
          byteSize: 1,
          filePath: '/data/x/a.png',
          pixels: null,
          thumbnail: { size: 64, png: new Uint8Array([1]) },
        },
      ],
      [],
    );
    expect(() =>
      project.db.prepare("INSERT INTO thumbnails (image_id, size, png) VALUES (999, 1, x'00')").run(),
    ).toThrow(/FOREIGN KEY/);
    project.db.prepare('DELETE FROM datasets WHERE id = ?').run(datasetId);
    expect(project.images.count()).toBe(0);
  });

  it("answers image queries from a cached id order that any write invalidates, own or another connection's", () => {
    const path = join(tempDir(), 'cache.xaiws');
    const project = track(Project.create(path));
    const datasetId = project.datasets.ensure('/data/c', 'folder', 'c');
    const image = (source: string, className: string) => ({
      source,
      className,
      split: null,
      width: 1,
      height: 1,
      channels: 1,
      contentHash: source,
      byteSize: 1,
      filePath: `/data/c/${source}`,
      pixels: null,
      thumbnail: { size: 64, png: new Uint8Array([1]) },
    });
    const query = {
      datasetId,
      correctness: 'all' as const,
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'class' as const,
      offset: 0,
      limit: 2,
    };
    project.images.insertChunk(datasetId, [image('a', 'zebra'), image('b', 'ant'), image('c', 'moth')], []);
    expect(project.images.query(query)).toMatchObject({
      total: 3,
      items: [{ className: 'ant' }, { className: 'moth' }],
    });
    expect(project.images.query({ ...query, offset: 2 }).items.map((row) => row.className)).toEqual(['zebra']);
    project.images.insertChunk(datasetId, [image('d', 'bee')], []); // this connection
    expect(project.images.query(query)).toMatchObject({
      total: 4,
      items: [{ className: 'ant' }, { className: 'bee' }],
    });
    const other = Project.open(path); // another connection, as the import worker has
    other.images.insertChunk(datasetId, [image('e', 'aardvark')], []);
    other.close();
    expect(project.images.query(query)).toMatchObject({
      total: 5,
      items: [{ className: 'aardvark' }, { className: 'ant' }],
    });
  });

  it('marks jobs a killed process left running as interrupted', () => {
    const path = join(tempDir(), 'jobs.xaiws');
    const project = Project.create(path);
    project.jobs.create({ id: 'j1', kind: 'import', title: 'Import x' }, {});
    project.jobs.update('j1', { status: 'running', done: 5, total: 10 });
    project.jobs.create({ id: 'j2', kind: 'import', title: 'Import y' }, {});
    project.jobs.update('j2', { status: 'running', done: 1, total: 10 });
    // j1's process is gone (a pid no process has); j2 belongs to this running process and is left alone.
    project.db.prepare("UPDATE jobs SET owner = ? WHERE id = 'j1'").run(`${hostname()}:${2 ** 22 + 1}`);
    project.close();
    const reopened = track(Project.open(path));
    expect(reopened.jobs.markInterrupted().map((job) => job.id)).toEqual(['j1']);
    expect(reopened.jobs.get('j1')).toMatchObject({ status: 'interrupted', done: 5, total: 10 });
    expect(reopened.jobs.get('j2')).toMatchObject({ status: 'running' });
  });
});
