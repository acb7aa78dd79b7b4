/**
 * A researcher's own model and photographs, in Chromium: a 224-px colour ViT (test/fixtures/models/
 * vit-tiny-224, bench/models/real_size_fixture.py) registered from its file and manifest, a folder of
 * JPEG photographs of several sizes imported, an image opened and explained at the layer the app
 * recommends, then at the patch embedding (a CNN-style NCHW map) and back at a token layer through the
 * layer picker's search, past a layer it warns about, and with a pixel attribution at input resolution,
 * laid over the centre crop of a wide photograph that the model saw.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gridTotal, jobDone, openApp, type App } from '../support/app.ts';
import { ROOT, type TestHost } from '../support/host.ts';
import { tempDir } from '../support/fixtures.ts';

const PHOTOS = '/usr/lib/python3/dist-packages/skimage/data';
const model = join(ROOT, 'test/fixtures/models/vit-tiny-224');
let app: App;
let testHost: TestHost;
let page: Page;
let folder: string;

/** Two JPEGs per class from one photograph: the original size and a smaller, flipped crop. */
async function photoFolder(): Promise<string> {
  const root = tempDir();
  const sources = { cat: 'chelsea.png', coffee: 'coffee.png', astronaut: 'astronaut.png', rocket: 'rocket.jpg' };
  for (const [name, file] of Object.entries(sources)) {
    mkdirSync(join(root, name));
    const photo = sharp(join(PHOTOS, file)).removeAlpha();
    const { width, height } = await photo.metadata();
    await photo
      .clone()
      .jpeg({ quality: 90 })
      .toFile(join(root, name, `${name}-full.jpg`));
    await photo
      .clone()
      .extract({ left: 0, top: 0, width: Math.round(width! * 0.7), height: Math.round(height! * 0.7) })
      .flop()
      .resize({ width: 256 })
      .jpeg({ quality: 85 })
      .toFile(join(root, name, `${name}-crop.jpg`));
  }
  return root;
}

beforeAll(async () => {
  folder = await photoFolder();
  app = await openApp({ width: 1400, height: 900 });
  ({ testHost, page } = app);
});

afterAll(() => app?.close());

const status = () => page.getByTestId('explanation-status').innerText();
const shot = (name: string) => page.screenshot({ path: join(ROOT, 'test-results', `real-size-${name}.png`) });

async function pickLayer(search: string, option: RegExp): Promise<void> {
  await page.getByTestId('explain-layer').click();
  await page.getByTestId('layer-search').fill(search);
  await page.getByTestId('layer-option').filter({ hasText: option }).first().click();
}

describe('a 224-px colour model on a folder of photographs', () => {
  it('creates a project, imports the JPEG folder, registers the model and classifies', async () => {
    await page.getByTestId('project-path').fill(join(testHost.dir, 'photos'));
    await page.getByTestId('create-project').click();
    await expect.poll(() => page.getByTestId('project-name').innerText()).toBe('photos');
    await page.getByTestId('import-source').fill(folder);
    await page.getByTestId('import-button').click();
    await jobDone(page, 'import');
    await page.keyboard.press('Escape');
    await expect.poll(() => gridTotal(page)).toBe(8);
    await page.getByTestId('model-path').fill(join(model, 'model.onnx'));
    await page.getByTestId('manifest-path').fill(join(model, 'manifest.json'));
    await page.getByTestId('add-model').click();
    await expect.poll(() => page.getByTestId('models').innerText()).toContain('ViT (tiny, 224 px');
    await page.getByTestId('run-inference').click();
    await jobDone(page, 'inference');
    await page.keyboard.press('Escape');
  });

  it('explains an image at the recommended token layer, then at the patch embedding and back', async () => {
    await page.getByTestId('cell').nth(0).click();
    await page.getByTestId('probabilities').waitFor();
    // The default is the norm before the last block: a 14 x 14 token map, not the empty last block.
    await expect.poll(status).toMatch(/^Grad-CAM for \w+, encoder › layers › encoder_layer_1 › ln_1 14×14/);
    await page.getByTestId('explain-layer').click();
    await expect(page.getByTestId('layer-recommended').count()).resolves.toBe(1);
    await page.getByTestId('layer-search').fill('ln_2');
    const trapped = page.getByTestId('layer-option').filter({ hasText: 'ln_2' }).last();
    await expect.poll(() => trapped.innerText()).toContain('no gradient reaches its positions');
    await shot('layer-picker');
    await page.keyboard.press('Escape');

    await pickLayer('conv_proj', /conv_proj/);
    await expect.poll(status).toMatch(/^Grad-CAM for \w+, conv_proj 14×14/);
    const painted = () =>
      page.getByTestId('heatmap-canvas').evaluate((canvas) => {
        const element = canvas as HTMLCanvasElement;
        const { data } = element.getContext('2d')!.getImageData(0, 0, element.width, element.height);
        const colours = new Set<number>();
        for (let i = 0; i < data.length; i += 4) colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
        return { width: element.width, colours: colours.size };
      });
    expect(await painted()).toMatchObject({ width: 14 });
    await expect.poll(async () => (await painted()).colours).toBeGreaterThan(5);

    await pickLayer('layer_1 ln_1', /ln_1/);
    await expect.poll(status).toMatch(/encoder_layer_1 › ln_1 14×14/);
    await page.getByTestId('explain-method').selectOption('saliency');
    await expect.poll(status).toMatch(/^Saliency for \w+, input 224×224/);
    expect(await painted()).toMatchObject({ width: 224 });
    await shot('saliency');
    expect(app.pageErrors).toEqual([]);
  });

  it('lays the map over the part of a wide photograph that the model saw (cover: the centred square)', async () => {
    await page.getByTestId('cell').nth(3).click(); // cat/cat-full.jpg, 451 x 300
    await expect.poll(() => page.getByTestId('image-panel').innerText()).toContain('451×300');
    await expect.poll(status).toMatch(/^Saliency for \w+, input 224×224/);
    const figure = page.getByTestId('explanation-panel').getByTestId('heatmap');
    const canvas = figure.getByTestId('heatmap-canvas');
    await expect
      .poll(async () => {
        const [box, map] = [await figure.boundingBox(), await canvas.boundingBox()];
        return box && map ? [map.x - box.x, map.y - box.y, map.width, map.height].map(Math.round) : [];
      })
      .toEqual([37, 37, 149, 149]);
    await shot('wide-photo');
  });
});
