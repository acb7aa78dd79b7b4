/**
 * The second demo (issue 18, points 5 and 6), in Chromium: the start view offers the colour benchmark
 * beside Fashion-MNIST; opening it registers the shipped ResNet with its explainer bundle, imports the 800
 * test images and classifies them; the Fashion-MNIST demo's project file now waits in the recent list.
 * The checks against the truth (Shift+Q) find the benchmark's truth file beside the imported CSV, run as
 * a job (R) and show every method's scores overall and per class, with the explainers' own checks; an
 * image's decomposition (D) opens in colour.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gridTotal, openApp, type App } from '../support/app.ts';
import { ROOT, type TestHost } from '../support/host.ts';

let app: App;
let testHost: TestHost;
let page: Page;

beforeAll(async () => {
  app = await openApp({ width: 1400, height: 900 });
  ({ testHost, page } = app);
});

afterAll(() => app?.close());

const shot = (name: string) => page.screenshot({ path: join(ROOT, 'test-results', `benchmark-demo-${name}.png`) });
const ws = () => testHost.workstation;
const busy = () =>
  ws()
    .jobs.list()
    .some((job) => job.status === 'running' || job.status === 'queued');

describe('the colour benchmark demo', () => {
  it('is offered beside Fashion-MNIST and fills on its first start', async () => {
    await page.getByTestId('open-demo').waitFor();
    await shot('start');
    await page.getByTestId('open-benchmark-demo').click();
    await expect.poll(() => page.getByTestId('project-name').innerText()).toBe('Colour benchmark demo');
    await expect.poll(() => !busy() && gridTotal(page), { timeout: 300_000 }).toBe(800);
    const [model] = ws().project.models.list();
    const [dataset] = ws().project.datasets.list();
    expect(model?.manifest.input).toMatchObject({ channels: 3, height: 64, width: 64 });
    expect(ws().project.predictions.count(model!.id, dataset!.id)).toBe(800);
    // The first start created the other demo's project file too: it waits in the recent list.
    expect(existsSync(join(testHost.dir, 'home', 'demo', 'fashion-mnist-demo.xaiws'))).toBe(true);
    expect(
      ws()
        .recent()
        .map((entry) => entry.name),
    ).toEqual(['Colour benchmark demo', 'Fashion-MNIST demo']);
  });

  it('checks every method against the truth as a job, overall and per class', async () => {
    await page.getByTestId('grid').focus();
    await page.keyboard.press('Shift+Q');
    await page.getByTestId('truth').waitFor();
    await expect(page.getByTestId('truth-file').locator('option:checked').innerText()).resolves.toMatch(
      /Colour benchmark test set/,
    );
    await page.getByTestId('truth-empty').waitFor();
    await page.getByTestId('truth-images').fill('16');
    await page.getByTestId('truth-images').press('Escape');
    await page.keyboard.press('r');
    await page.getByTestId('truth-overall').waitFor({ timeout: 300_000 });
    // Nine CAM and attribution methods and DXAI's distinct part, each scored on the 16 images.
    await expect.poll(() => page.getByTestId('truth-row').count()).toBe(10);
    await expect(page.getByTestId('truth-overall').innerText()).resolves.toMatch(/DXAI's distinct part/);
    const perClass = page.getByTestId('truth-per-class').locator('tbody tr');
    await expect.poll(() => perClass.count()).toBe(8);
    await expect(page.getByTestId('truth-bundle').innerText()).resolves.toMatch(/DXAI[\s\S]*CAE[\s\S]*InfoDisent/);
    const stored = ws()
      .jobs.list()
      .find((job) => job.kind === 'benchmark');
    expect(stored).toMatchObject({ status: 'done' });
    await page.getByTestId('truth-metric').selectOption('relevanceMass');
    await shot('truth');
  });

  it('opens an image and its colour decomposition', async () => {
    await page.keyboard.press('Escape');
    await page.getByTestId('cell').first().click();
    await page.keyboard.press('d');
    await page.getByTestId('reconstruction-error').waitFor({ timeout: 120_000 });
    await shot('decomposition');
  });
});
