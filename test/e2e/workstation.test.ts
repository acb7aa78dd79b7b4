/**
 * End to end in Debian's Chromium through the browser host: the real renderer, the real services,
 * a real project file, the real Fashion-MNIST test set and the demo classifier.
 */
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gridColumns, gridTotal, jobDone, openApp, type App } from '../support/app.ts';
import { classFolderTree } from '../support/fixtures.ts';
import { ROOT, type TestHost } from '../support/host.ts';
import { CAM_METHOD_NAMES, ROLLOUT_METHOD_NAMES } from '../../src-shared/contract.ts';

let app: App;
let testHost: TestHost;
let page: Page;

beforeAll(async () => {
  app = await openApp({ width: 1400, height: 900 });
  ({ testHost, page } = app);
});

afterAll(() => app?.close());

const total = () => gridTotal(page);
const waitForTotal = (expected: number) => expect.poll(total).toBe(expected);
const waitForJob = (kind: string) => jobDone(page, kind);
const columns = () => gridColumns(page);

describe('the workstation in Chromium', () => {
  it('creates a project from the start view', async () => {
    await page.getByTestId('project-path').fill(join(testHost.dir, 'study'));
    await page.getByTestId('create-project').click();
    await expect.poll(() => page.getByTestId('project-name').innerText()).toBe('study');
  });

  it('imports the Fashion-MNIST test set with progress in the jobs panel', async () => {
    await page.getByTestId('import-source').fill(join(ROOT, 'resources/datasets/fashion-mnist'));
    await page.getByTestId('import-button').click();
    await page.getByTestId('jobs').waitFor();
    await waitForJob('import');
    await page.keyboard.press('Escape');
    await waitForTotal(10_000);
    await expect.poll(() => page.getByTestId('datasets').innerText()).toContain('10,000');
    // Thumbnails arrive in batches and are drawn into one canvas per row: every slot of the first
    // rows holds an image (lit pixels inside its 68 px square).
    await expect.poll(() => page.locator('[data-testid=row-thumbnails][data-drawn]').count()).toBeGreaterThan(3);
    // ...decoded by the thumbnail worker (the page's policy lets it start).
    expect(page.workers().map((worker) => worker.url())).toContainEqual(expect.stringMatching(/thumbnail\.worker/));
    const litPerSlot = await page.$$eval('[data-testid=row-thumbnails]', (canvases) =>
      canvases.slice(0, 3).flatMap((canvas) => {
        const element = canvas as HTMLCanvasElement;
        const context = element.getContext('2d')!;
        return Array.from({ length: element.width / 80 }, (_, slot) => {
          const { data } = context.getImageData(slot * 80 + 6, 6, 68, 68);
          let lit = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i]! > 40) lit++;
          return lit;
        });
      }),
    );
    expect(litPerSlot.length).toBeGreaterThan(20);
    for (const lit of litPerSlot) expect(lit).toBeGreaterThan(200);
  });

  it('registers the demo classifier and runs it over the dataset', async () => {
    await page.getByTestId('model-path').fill(join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx'));
    await page.getByTestId('add-model').click();
    await expect.poll(() => page.getByTestId('models').innerText()).toContain('Fashion-MNIST demo CNN');
    await page.getByTestId('run-inference').click();
    await waitForJob('inference');
    const summary = await page.locator('[data-testid=job][data-kind=inference]').first().innerText();
    expect(summary).toContain('accuracy 92.95%');
    expect(summary).toContain('CPU');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByTestId('provider').innerText()).toBe('CPU');
  });

  it('filters by correctness and confidence', async () => {
    await page.getByTestId('filter-correctness').selectOption('wrong');
    await waitForTotal(705);
    await page.getByTestId('filter-confidence-max').fill('60');
    await page.getByTestId('filter-confidence-max').press('Tab');
    await expect.poll(total).toBeLessThan(705);
    expect(await total()).toBeGreaterThan(0);
    await page.getByTestId('sort').selectOption('confidence-asc');
    await page.keyboard.press('Escape');
    await page.keyboard.press('x');
    await waitForTotal(10_000);
  });

  it('moves through the grid with the keyboard and opens an image with its probabilities', async () => {
    await page.getByTestId('filter-correctness').selectOption('wrong');
    await waitForTotal(705);
    await page.keyboard.press('Escape');
    for (let step = 0; step < 3; step++) await page.keyboard.press('ArrowRight'); // first key selects the first image
    await page.keyboard.press('Enter');
    const third = await page.getByTestId('cell').nth(2).getAttribute('data-image-id');
    await expect
      .poll(() => page.getByTestId('image-panel').locator('h2').first().innerText())
      .toBe(`IMAGE ${third}`.toUpperCase());
    await page.getByTestId('probabilities').waitFor();
    const trueClass = await page.getByTestId('true-class').innerText();
    const predicted = await page.getByTestId('predicted-class').innerText();
    expect(predicted.startsWith(trueClass)).toBe(false);
    const bars = await page.getByTestId('probabilities').locator('li').count();
    expect(bars).toBe(10);
    await page.keyboard.press('ArrowDown');
    const below = await page
      .getByTestId('cell')
      .nth(2 + (await columns()))
      .getAttribute('data-image-id');
    await expect.poll(() => page.getByTestId('image-panel').locator('h2').first().innerText()).toBe(`IMAGE ${below}`);
  });

  it('opens the images of a confusion-matrix cell', async () => {
    await page.keyboard.press('x');
    await page.keyboard.press('c');
    await page.getByTestId('accuracy').waitFor();
    expect(await page.getByTestId('accuracy').innerText()).toContain('92.95%');
    const cell = page.getByTestId('cell-6-0'); // true Shirt, predicted T-shirt/top
    const count = Number(await cell.innerText());
    expect(count).toBeGreaterThan(0);
    await cell.click();
    await waitForTotal(count);
    expect(await page.getByTestId('filter-true-class').inputValue()).toBe('Shirt');
    expect(await page.getByTestId('filter-predicted-class').inputValue()).toBe('T-shirt/top');
  });

  it('explains the open image: methods and layers switch by key and menu, all methods side by side', async () => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('x');
    await waitForTotal(10_000);
    await page.getByTestId('cell').nth(0).click();
    const status = page.getByTestId('explanation-status');
    await expect.poll(() => status.innerText()).toMatch(/^Grad-CAM for Ankle boot, features › \d+ 7×7/);
    const painted = () =>
      page.getByTestId('heatmap-canvas').evaluate((canvas) => {
        const element = canvas as HTMLCanvasElement;
        const { data } = element.getContext('2d')!.getImageData(0, 0, element.width, element.height);
        const colours = new Set<number>();
        for (let i = 0; i < data.length; i += 4) colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
        return { width: element.width, colours: colours.size };
      });
    expect(await painted()).toMatchObject({ width: 7 });
    expect((await painted()).colours).toBeGreaterThan(5);
    await page.getByTestId('grid').focus();
    await page.keyboard.press('m');
    await expect.poll(() => status.innerText()).toMatch(/^HiResCAM for Ankle boot/);
    await page.getByTestId('explain-method').selectOption('ablationcam');
    await expect.poll(() => status.innerText()).toMatch(/^Ablation-CAM for Ankle boot, features › \d+ 7×7/);
    await page.getByTestId('explain-target').selectOption({ label: 'Sneaker' });
    await expect.poll(() => status.innerText()).toMatch(/^Ablation-CAM for Sneaker/);
    await page.getByTestId('grid').focus();
    await page.keyboard.press('l'); // from the last layer, L wraps round to the first: 32 x 28 x 28
    await expect.poll(() => status.innerText()).toMatch(/features › \d+ 28×28/);
    expect(await painted()).toMatchObject({ width: 28 });
    await page.keyboard.press('g');
    await expect
      .poll(() => page.locator('[data-testid=method-grid] [data-testid=heatmap-canvas]').count())
      .toBe(CAM_METHOD_NAMES.length - ROLLOUT_METHOD_NAMES.length); // no rollouts for a CNN
    await page.keyboard.press('Escape');
    await page.keyboard.press('k');
    await expect.poll(() => page.locator('[data-testid=cluster-layer]').count()).toBe(3);
    expect(await page.getByTestId('layers-class').innerText()).toBe('Sneaker');
    const weights = await page.getByTestId('cluster-weight').allInnerTexts();
    expect(weights.length).toBeGreaterThanOrEqual(9); // k >= 3 per layer
    for (const weight of weights) expect(Number(weight.replace('%', ''))).toBeGreaterThan(0);
    await page.keyboard.press('Escape');
    await page.keyboard.press('q');
    await page.getByTestId('deletion-auc').waitFor();
    for (const metric of ['deletion-auc', 'insertion-auc']) {
      const value = Number(await page.getByTestId(metric).innerText());
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThanOrEqual(1);
    }
    expect(Number.isFinite(Number(await page.getByTestId('road-combined').innerText()))).toBe(true);
    const blackPixels = () =>
      page.getByTestId('perturbed-deletion').evaluate((canvas) => {
        const element = canvas as HTMLCanvasElement;
        const { data } = element.getContext('2d')!.getImageData(0, 0, element.width, element.height);
        let black = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 0) black++;
        return black;
      });
    await page.getByTestId('metric-scrubber').fill('0');
    const before = await blackPixels();
    await page.getByTestId('metric-scrubber').fill('40');
    await expect.poll(blackPixels).toBeGreaterThan(before); // 80% of the pixels deleted
    await page.getByTestId('run-sanity').click();
    await expect.poll(() => page.getByTestId('sanity-steps').locator('li').count()).toBe(5);
    await page.keyboard.press('Escape');
    await page.getByTestId('explain-target').selectOption({ label: 'predicted' });
    await page.getByTestId('explain-method').selectOption('gradcam');
  });

  it('explains every filtered image as one job', async () => {
    await page.getByTestId('filter-true-class').selectOption('Bag');
    await waitForTotal(1000);
    await page.getByTestId('explain-selection').click();
    await page.locator('[data-testid=job][data-kind=explain][data-status=done]').first().waitFor({ timeout: 600_000 });
    expect(await page.locator('[data-testid=job][data-kind=explain]').first().innerText()).toMatch(/gradcam/);
    await page.keyboard.press('Escape');
    await page.keyboard.press('x');
    await waitForTotal(10_000);
  });

  describe('generative explanations of the demo bundle', () => {
    const heading = async () => (await page.getByTestId('image-panel').locator('h2').first().textContent())!.trim();

    it('decomposes the open image (D): parts, branches, beta slider, another class', async () => {
      await page.getByTestId('cell').nth(0).click();
      await page.keyboard.press('d');
      await page.getByTestId('part-distinct').waitFor();
      expect(await page.getByTestId('branch').count()).toBe(6); // reconstruction and five branches
      expect(Number(await page.getByTestId('reconstruction-error').innerText())).toBeGreaterThan(0);
      expect(await page.locator('.caption:has([data-testid=beta-probability])').innerText()).toContain('β = 0.50');
      await page.keyboard.press('ArrowRight');
      await expect
        .poll(() => page.locator('.caption:has([data-testid=beta-probability])').innerText())
        .toContain('β = 0.55');
      await page.getByTestId('decomposition-class').selectOption({ label: 'Bag' });
      await expect.poll(() => page.getByTestId('part-distinct').innerText()).toContain('class-distinct (Bag)');
      await page.keyboard.press('Escape');
    });

    it('steps through a counterfactual path (P), plays it, exports it and maps it over the class codes', async () => {
      await page.keyboard.press('p');
      await page.getByTestId('path-strip').waitFor();
      expect(await page.getByTestId('path-step').count()).toBe(11);
      const step = () => page.getByTestId('path-caption').getAttribute('data-step');
      await page.keyboard.press('Home');
      await expect.poll(step).toBe('0');
      await page.keyboard.press('ArrowRight');
      await expect.poll(step).toBe('1');
      await page.keyboard.press('End');
      await expect.poll(step).toBe('10');
      await page.getByTestId('path-step').nth(3).click();
      await expect.poll(step).toBe('3');
      await page.getByTestId('path-play').click();
      await expect.poll(step).toBe('10');
      if ((await page.getByTestId('flip-summary').innerText()).includes('flips'))
        await page.getByTestId('chart-flag').waitFor({ state: 'attached' });
      for (const [button, signature] of [
        ['export-png', [0x89, 0x50, 0x4e, 0x47]],
        ['export-gif', [0x47, 0x49, 0x46, 0x38]],
      ] as const) {
        const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId(button).click()]);
        const file = join(testHost.dir, download.suggestedFilename());
        await download.saveAs(file);
        expect([...readFileSync(file).subarray(0, 4)]).toEqual([...signature]);
      }
      await page.getByTestId('index-pca').click();
      await expect
        .poll(() => page.getByTestId('code-map-canvas').getAttribute('data-points'), { timeout: 600_000 })
        .toBe('10000');
      // A click on the map opens the image whose point is under it.
      const opened = await heading();
      const box = (await page.getByTestId('code-map-canvas').boundingBox())!;
      for (const [fx, fy] of [
        [0.5, 0.5],
        [0.4, 0.6],
        [0.6, 0.4],
        [0.5, 0.7],
        [0.3, 0.5],
      ] as const) {
        await page.mouse.click(box.x + fx * box.width, box.y + fy * box.height);
        if ((await heading()) !== opened) break;
      }
      expect(await heading()).not.toBe(opened);
      await page.keyboard.press('Escape');
    });

    it('shows components (I) whose bars add up to the logit, with prototypes that open their image', async () => {
      await page.keyboard.press('i');
      await expect.poll(() => page.getByTestId('component').count()).toBe(6);
      const summary = await page.getByTestId('components-summary').innerText();
      const logit = Number(/logit (-?[0-9.]+)/.exec(summary)![1]);
      expect(Math.abs(Number(await page.getByTestId('contribution-total').textContent()) - logit)).toBeLessThan(2e-3);
      // The dataset index built above supplies the prototypes: project images, clickable.
      expect(await page.getByTestId('prototype-source').count()).toBe(0);
      const prototype = page.locator('button[data-testid=prototype]').first();
      const target = /image (\d+)/.exec((await prototype.getAttribute('aria-label'))!)![1];
      await prototype.click();
      await expect.poll(heading).toBe(`Image ${target}`);
      await page.keyboard.press('Escape');
    });

    it('compares every explanation of one image (E)', async () => {
      await page.keyboard.press('e');
      await page.locator('[data-testid=compare-distinct] canvas').waitFor();
      await page.locator('[data-testid=compare-difference] canvas').waitFor();
      await expect.poll(() => page.getByTestId('compare-component').count()).toBe(3);
      await page.keyboard.press('Escape');
    });

    it('decomposes the filtered images as a job and draws the maps over the grid', async () => {
      await page.getByTestId('filter-true-class').selectOption('Bag');
      await waitForTotal(1000);
      await page.getByTestId('cell').nth(0).click();
      await page.getByTestId('open-decomposition').click();
      await page.getByTestId('part-distinct').waitFor();
      await page.getByRole('button', { name: 'Decompose filtered' }).click();
      await page
        .locator('[data-testid=job][data-kind=generative][data-status=done]')
        .first()
        .waitFor({ timeout: 600_000 });
      await page.keyboard.press('Escape');
      for (const label of [/^DXAI/, /^Grad-CAM · .* \(\d{4,}\)$/]) {
        const option = page.locator('[data-testid=grid-overlay] option', { hasText: label }).first();
        await option.waitFor({ state: 'attached' });
        await page.getByTestId('grid-overlay').selectOption((await option.getAttribute('value'))!);
        await expect
          .poll(() => page.locator('[data-testid=row-thumbnails]').first().getAttribute('data-overlays'))
          .not.toBe('0');
      }
      await page.getByTestId('grid-overlay').selectOption('');
      await page.keyboard.press('x');
      await waitForTotal(10_000);
    });

    it('names the missing file of a broken bundle in the view', async () => {
      const broken = join(testHost.dir, 'broken-bundle');
      cpSync(join(ROOT, 'resources/models/fashion-mnist-cnn'), broken, { recursive: true });
      rmSync(join(broken, 'dxai.onnx'));
      // The same classifier file from another folder: the registration moves there, with its bundle.
      const addModel = async (path: string) => {
        await page.getByTestId('model-path').fill(path);
        await page.getByTestId('add-model').click();
        await expect.poll(() => page.getByTestId('models').locator('button').first().getAttribute('title')).toBe(path);
      };
      await addModel(join(broken, 'classifier.onnx'));
      await page.getByTestId('cell').nth(0).click();
      await page.keyboard.press('d');
      await expect
        .poll(() => page.getByTestId('generative-error').innerText())
        .toMatch(/lists dxai\.onnx but there is no such file/);
      await page.keyboard.press('Escape');
      await addModel(join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx'));
      await page.keyboard.press('d');
      await page.getByTestId('part-distinct').waitFor();
      await page.keyboard.press('Escape');
    });
  });

  it('shows the files an import skipped, with their reasons', async () => {
    const tree = await classFolderTree();
    await page.getByTestId('import-source').fill(tree.root);
    await page.getByTestId('import-button').click();
    await expect
      .poll(async () => page.locator('[data-testid=job][data-kind=import][data-status=done]').count())
      .toBe(2);
    await page.keyboard.press('Escape');
    await page.getByTestId('datasets').getByText(tree.root.split('/').pop()!).click();
    await page.getByTestId('show-issues').click();
    await page.getByTestId('issue').first().waitFor();
    const codes = await page
      .getByTestId('issue')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-code')).sort());
    // huge.png (400x300) imports here: the default pixel limit is far above it.
    const expected = Object.entries(tree.bad)
      .filter(([source]) => source !== 'dog/huge.png')
      .map(([, code]) => code)
      .sort();
    expect(codes).toEqual(expected);
  });

  it('cancels a running import from the jobs panel and keeps what was imported', async () => {
    await page.keyboard.press('Escape');
    await page.getByTestId('import-source').fill('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
    await page.getByTestId('import-button').click();
    const running = page.locator('[data-testid=job][data-kind=import][data-status=running]');
    await running.locator('progress').waitFor();
    // Cancel once a first chunk is in (a state, not a moment: a busy machine reads the file for longer).
    const imported = () =>
      testHost.workstation.project.datasets.list().find((d) => d.source.endsWith('train-images-idx3-ubyte.gz'))
        ?.images ?? 0;
    await expect.poll(imported, { interval: 20 }).toBeGreaterThan(0);
    await running.getByTestId('cancel-job').click();
    await page.locator('[data-testid=job][data-kind=import][data-status=cancelled]').waitFor();
    const dataset = testHost.workstation.project.datasets
      .list()
      .find((d) => d.source.endsWith('train-images-idx3-ubyte.gz'))!;
    expect(dataset.images).toBeGreaterThan(0);
    expect(dataset.images).toBeLessThan(60_000);
    await page.keyboard.press('Escape');
  });

  it('switches to another project and back through the recent list', async () => {
    await page.keyboard.press('o');
    await page.getByTestId('project-path').fill(join(testHost.dir, 'second'));
    await page.getByTestId('create-project').click();
    await expect.poll(() => page.getByTestId('project-name').innerText()).toBe('second');
    await waitForTotal(0);
    await page.getByTestId('choose-project').click();
    await page.getByTestId('recent-project').filter({ hasText: 'study' }).click();
    await expect.poll(() => page.getByTestId('project-name').innerText()).toBe('study');
    await waitForTotal(10_000);
  });
});
