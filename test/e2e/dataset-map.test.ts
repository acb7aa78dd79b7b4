/**
 * From one image to the whole model in Chromium (issue 19): the Fashion-MNIST demo mapped as a job (U,
 * then R), coloured by a score, a lasso drawn on the canvas whose images become the grid's filter
 * (Enter), an open image's most similar images (S), which are the stored map's nearest neighbours, and
 * a class's strategies (Shift+S, R), one opened (1) and its images put in the grid (Enter).
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gridTotal, openApp, type App } from '../support/app.ts';
import { ROOT, type TestHost } from '../support/host.ts';
import { getDatasetMap, similarImages } from '../../src-main/explain/dataset-map.ts';
import { strategiesResult } from '../../src-main/explain/strategies.ts';
import { fitView, insidePolygon } from '../../src-renderer/lib/map-drawing.ts';

let app: App;
let testHost: TestHost;
let page: Page;

beforeAll(async () => {
  app = await openApp({ width: 1400, height: 900 });
  ({ testHost, page } = app);
});

afterAll(() => app?.close());

const shot = (name: string) => page.screenshot({ path: join(ROOT, 'test-results', `dataset-map-${name}.png`) });
const ws = () => testHost.workstation;
const busy = () =>
  ws()
    .jobs.list()
    .some((job) => job.status === 'running' || job.status === 'queued');

describe('the dataset map', () => {
  it('maps the demo dataset as a job and colours it by a score', async () => {
    await page.getByTestId('open-demo').click();
    await expect.poll(() => !busy() && gridTotal(page), { timeout: 300_000 }).toBe(10_000);
    await page.getByTestId('grid').focus();
    await page.keyboard.press('u');
    await page.getByTestId('map-build').waitFor();
    await page.keyboard.press('r');
    await page.getByTestId('map-canvas').waitFor({ timeout: 300_000 });
    await expect(page.getByTestId('map-facts').innerText()).resolves.toMatch(/10,000 images at layer/);
    const job = ws()
      .jobs.list()
      .find((j) => j.kind === 'map');
    expect(job).toMatchObject({ status: 'done' });
    await page.keyboard.press('4');
    await expect(page.getByTestId('map-colouring').inputValue()).resolves.toBe('mistakenness');
    await shot('mistakenness');
    await page.keyboard.press('1');
  });

  it('lassoes images on the canvas into the grid filter', async () => {
    const box = (await page.getByTestId('map-canvas').boundingBox())!;
    // A triangle over the left half of the map.
    const points: [number, number][] = [
      [box.x + 20, box.y + 20],
      [box.x + box.width * 0.5, box.y + box.height * 0.5],
      [box.x + 20, box.y + box.height - 20],
    ];
    await page.mouse.move(...points[0]!);
    await page.mouse.down();
    for (const [x, y] of [...points.slice(1), points[0]!]) await page.mouse.move(x, y, { steps: 12 });
    await page.mouse.up();
    const selection = page.getByTestId('map-selection');
    await expect.poll(() => selection.innerText()).toMatch(/selected/);
    const selected = Number((await selection.innerText()).match(/([\d,]+) selected/)![1]!.replace(/,/g, ''));
    expect(selected).toBeGreaterThan(0);
    expect(selected).toBeLessThan(10_000);
    await shot('lasso');
    await page.keyboard.press('Enter');
    await expect.poll(() => gridTotal(page)).toBe(selected);
    await expect(page.getByTestId('filter-selection').innerText()).resolves.toMatch(/lassoed on the map/);
    // The selection is the map's points inside the triangle, as the canvas's fitted view places them.
    const model = ws().project.models.list()[0]!;
    const datasetId = ws().project.datasets.list()[0]!.id;
    const map = getDatasetMap(ws(), { modelId: model.id, datasetId })!;
    const scale = 880 / box.width;
    const triangle = points.map(([x, y]) => [(x - box.x) * scale, (y - box.y) * scale] as [number, number]);
    const inside = insidePolygon(map, fitView(map, 880, 560), triangle).map((row) => map.imageIds[row]!);
    expect(Math.abs(inside.length - selected)).toBeLessThanOrEqual(2); // points on the drawn edge may go either way
    const shown = ws().project.images.query({
      datasetId,
      imageIds: inside,
      correctness: 'all',
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id',
      offset: 0,
      limit: 5000,
    });
    expect(shown.total).toBe(inside.length);
    await shot('grid');
  });

  it("shows an open image's nearest neighbours on the map and puts them in the grid", async () => {
    await page.getByTestId('cell').first().click();
    await page.getByTestId('image-panel').waitFor();
    await page.getByTestId('grid').focus();
    await page.keyboard.press('s');
    const items = page.getByTestId('similar').locator('li');
    await expect.poll(() => items.count()).toBe(15);
    const model = ws().project.models.list()[0]!;
    const opened = Number((await page.getByTestId('image-panel').locator('h2').first().innerText()).replace(/\D/g, ''));
    const expected = similarImages(ws(), { modelId: model.id, imageId: opened, count: 15 }).neighbours.map(
      (n) => n.imageId,
    );
    const shown = await items.locator('img').evaluateAll((imgs) => imgs.map((img) => img.getAttribute('alt')));
    expect(shown).toEqual(expected.map((id) => `Image ${id}`));
    const map = getDatasetMap(ws(), { modelId: model.id, datasetId: ws().project.datasets.list()[0]!.id })!;
    expect(map.imageIds).toContain(opened);
    await page.getByTestId('similar').scrollIntoViewIfNeeded();
    await shot('similar');
    await page.getByTestId('similar-in-grid').click();
    await expect.poll(() => gridTotal(page)).toBe(16);
  });

  it("finds a class's strategies (Shift+S), opens one and shows its images in the grid", async () => {
    await page.getByTestId('grid').focus();
    await page.keyboard.press('x'); // the filters cleared
    await page.keyboard.press('Shift+S');
    await page.getByTestId('strategies').waitFor();
    await page.getByTestId('strategies-class').selectOption({ label: 'Shirt' });
    await page.keyboard.press('r');
    await page.getByTestId('strategies-facts').waitFor({ timeout: 300_000 });
    const cards = page.getByTestId('strategy-cluster');
    const count = await cards.count();
    expect(count).toBeGreaterThanOrEqual(2);
    await expect(page.getByTestId('strategies-facts').innerText()).resolves.toMatch(/1,000 images labelled Shirt/);
    await page.keyboard.press('1');
    const members = page.getByTestId('strategy-members').locator('img');
    await expect.poll(() => members.count()).toBeGreaterThan(6);
    await shot('strategies');
    const model = ws().project.models.list()[0]!;
    const report = strategiesResult(ws(), {
      modelId: model.id,
      datasetId: ws().project.datasets.list()[0]!.id,
      classIndex: 6,
      method: 'gradcam',
    })!;
    expect(report.clusters.reduce((s, c) => s + c.size, 0)).toBe(1000);
    await page.keyboard.press('Enter');
    await expect.poll(() => gridTotal(page)).toBe(report.clusters[0]!.size);
    await expect(page.getByTestId('filter-selection').innerText()).resolves.toMatch(/strategy 1 of Shirt/);
    expect(app.pageErrors).toEqual([]);
  });
});
