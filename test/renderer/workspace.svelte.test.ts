/**
 * The workspace state (Workspace) against a fake API: what it loads at start, filters kept per
 * dataset in the browser's storage, panels and images changed through its methods, a confusion cell
 * as exactly its images, and job events that refresh it and say when a job failed.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
vi.mock('../../src-renderer/lib/api.ts', () => ({ api: {} }));
import { NO_FILTERS, Workspace } from '../../src-renderer/lib/workspace.svelte.ts';
import type { Job } from '../../src-shared/contract.ts';
import { FakeApi } from '../support/fake-api.ts';

const project = { path: '/p/demo.xaiws', name: 'demo', readOnly: false } as never;
const datasets = [
  { id: 1, name: 'train', classes: ['Shirt', 'Sneaker'], splits: ['train'], images: 10 },
  { id: 2, name: 'test', classes: ['Bag'], splits: [], images: 5 },
];
const models = [{ id: 4, name: 'cnn', manifest: { classes: ['Shirt', 'Sneaker', 'Bag'] } }];

function fake() {
  return new FakeApi()
    .answer('projects.current', () => project)
    .answer('projects.recent', () => [])
    .answer('datasets.list', () => datasets)
    .answer('models.list', () => models)
    .answer('jobs.list', () => [])
    .answer('app.info', () => ({ version: '0', transport: 'host', providers: { available: ['cpu'], active: 'cpu' } }));
}

beforeEach(() => {
  const store = new Map<string, string>();
  vi.stubGlobal('localStorage', {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
  });
});
afterEach(() => vi.unstubAllGlobals());

describe('Workspace', () => {
  it('opens on the current project with its first dataset and model', async () => {
    const ws = new Workspace(fake());
    await ws.init();
    expect([ws.ready, ws.project?.name, ws.datasetId, ws.modelId]).toEqual([true, 'demo', 1, 4]);
    expect(ws.query).toMatchObject({ datasetId: 1, modelId: 4, correctness: 'all', sort: 'id' });
  });

  it('keeps each dataset its own filters, across a reload of the page', async () => {
    const ws = new Workspace(fake());
    await ws.init();
    ws.setFilters({ trueClass: 'Sneaker', correctness: 'wrong' });
    ws.saveFilters();
    ws.chooseDataset(2);
    expect(ws.filters).toEqual(NO_FILTERS);
    const again = new Workspace(fake());
    await again.init();
    expect(again.filters).toMatchObject({ trueClass: 'Sneaker', correctness: 'wrong', sort: 'id' });
  });

  it('shows a confusion cell as exactly its images, keeping the sort, and closes the matrix', async () => {
    const ws = new Workspace(fake());
    await ws.init();
    ws.setFilters({ split: 'train', sort: 'confidence-asc' });
    ws.showPanel('confusion');
    ws.showCell('Shirt', 'Sneaker');
    expect(ws.filters).toEqual({
      ...NO_FILTERS,
      sort: 'confidence-asc',
      trueClass: 'Shirt',
      predictedClass: 'Sneaker',
    });
    expect(ws.panel).toBe('none');
  });

  it('opens and closes panels and images through its methods', async () => {
    const ws = new Workspace(fake());
    await ws.init();
    ws.togglePanel('jobs');
    expect(ws.panel).toBe('jobs');
    ws.togglePanel('jobs');
    expect(ws.panel).toBe('none');
    ws.openImage(12);
    ws.select(3);
    expect([ws.openImageId, ws.selectedIndex]).toEqual([12, 3]);
    ws.chooseDataset(2);
    expect(ws.openImageId).toBeNull();
  });

  it('follows job events: a failed job becomes a readable toast, a finished one refreshes the lists', async () => {
    const api = fake();
    const ws = new Workspace(api);
    await ws.init();
    const before = api.callsOf('datasets.list').length;
    const job = {
      id: 'j1',
      kind: 'import',
      title: 'Import pets',
      status: 'failed',
      stage: 'failed',
      done: 0,
      total: 0,
      createdAt: '2026-12-02T10:00:00Z',
      error: { code: 'source_not_found', message: 'No folder at /pets' },
    } as unknown as Job;
    api.emit('job.updated', job);
    expect(ws.jobs.map((j) => j.id)).toEqual(['j1']);
    expect(ws.toasts.map((t) => t.text)).toEqual(['Import pets failed: No folder at /pets']);
    await expect.poll(() => api.callsOf('datasets.list').length).toBeGreaterThan(before);
  });
});
