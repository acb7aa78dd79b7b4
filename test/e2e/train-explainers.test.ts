/**
 * Explainers for a user's own model, trained from the app (issue 18, point 3), in Chromium: a colour
 * ResNet (seeded weights, 32 px input) and a folder of the colour benchmark's images (64 px, resized by
 * the manifest) are added to a new project; the decomposition view of an image says the model has no
 * explainers and offers to train them; two steps are trained by the Python toolkit as a job, with its
 * progress in the view; when it is done the view shows the image's decomposition, and the
 * counterfactual and components views work too.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gridTotal, jobDone, openApp, type App } from '../support/app.ts';
import { ROOT, type TestHost } from '../support/host.ts';
import { tempDir } from '../support/fixtures.ts';

const PYTHON = '/usr/bin/python3';
let app: App;
let testHost: TestHost;
let page: Page;
let folder: string;

/** The benchmark's first 48 training images (six a class), a ResNet for its classes, and its manifest. */
function colourProject(): { images: string; model: string; manifest: string } {
  folder = tempDir();
  execFileSync(PYTHON, ['-m', 'training', 'benchmark', '--out', folder, '--train', '48', '--test', '8'], {
    cwd: ROOT,
  });
  const model = join(folder, 'resnet.onnx');
  const script = `
import json, sys, torch
sys.path.insert(0, "bench/models")
import small_families
from training import benchmark
model, _ = small_families.build("resnet")
model.fc = torch.nn.Linear(model.fc.in_features, len(benchmark.CLASSES))
torch.onnx.export(model.eval(), torch.zeros(1, 3, 32, 32), sys.argv[1], opset_version=13, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
print(json.dumps([benchmark.class_folder(c[0]) for c in benchmark.CLASSES]))`;
  const classes = JSON.parse(execFileSync(PYTHON, ['-c', script, model], { cwd: ROOT, encoding: 'utf8' })) as string[];
  const manifest = join(folder, 'resnet.manifest.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      format: 'xaiws.classifier/1',
      name: 'Colour ResNet',
      input: { channels: 3, height: 32, width: 32 },
      output: { kind: 'logits' },
      preprocessing: { scale: 255, mean: [0.5], std: [0.25], resize: 'stretch' },
      classes,
    }),
  );
  return { images: join(folder, 'images', 'train'), model, manifest };
}

let files: ReturnType<typeof colourProject>;

beforeAll(async () => {
  files = colourProject();
  app = await openApp({ width: 1400, height: 900 });
  ({ testHost, page } = app);
});

afterAll(() => app?.close());

const shot = (name: string) => page.screenshot({ path: join(ROOT, 'test-results', `train-explainers-${name}.png`) });

describe('explainers for a model of ones own', () => {
  it('adds a colour folder and a ResNet with no explainers: the decomposition view offers training', async () => {
    await page.getByTestId('project-path').fill(join(testHost.dir, 'colour'));
    await page.getByTestId('create-project').click();
    await expect.poll(() => page.getByTestId('project-name').innerText()).toBe('colour');
    await page.getByTestId('import-source').fill(files.images);
    await page.getByTestId('import-button').click();
    await jobDone(page, 'import');
    await page.keyboard.press('Escape');
    await expect.poll(() => gridTotal(page)).toBe(48);
    await page.getByTestId('model-path').fill(files.model);
    await page.getByTestId('manifest-path').fill(files.manifest);
    await page.getByTestId('add-model').click();
    await expect.poll(() => page.getByTestId('models').innerText()).toContain('Colour ResNet');
    await page.getByTestId('cell').nth(0).click();
    await page.keyboard.press('d');
    await page.getByTestId('train-explainers').waitFor();
    expect(await page.getByTestId('train-explainers').innerText()).toContain('has no explainers yet');
    await shot('offer');
  });

  it('trains two steps as a job, then shows the decomposition, a path and the components', async () => {
    await page.getByTestId('train-steps').fill('2');
    await page.getByTestId('train-start').click();
    // The view shows the job's stage while it runs, and the decomposition once it is done.
    await page.getByTestId('part-distinct').waitFor({ timeout: 600_000 });
    expect(await page.getByTestId('branch').count()).toBe(6);
    await shot('decomposition');
    await page.keyboard.press('Escape');
    await page.keyboard.press('p');
    await page.getByTestId('path-current').waitFor();
    expect(Number(await page.getByTestId('path-slider').getAttribute('max'))).toBe(10);
    await page.keyboard.press('Escape');
    await page.keyboard.press('i');
    // InfoDisent's prototypes come from the bundle's atlas, in colour: their canvases are not grey.
    const patch = page.getByTestId('prototype').first();
    await patch.waitFor();
    const colourful = await patch.evaluate((canvas) => {
      const element = canvas as HTMLCanvasElement;
      const { data } = element.getContext('2d')!.getImageData(0, 0, element.width, element.height);
      let differing = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] !== data[i + 1] || data[i + 1] !== data[i + 2]) differing++;
      return differing;
    });
    expect(colourful).toBeGreaterThan(0);
    await shot('components');
    await page.keyboard.press('Escape');
    await page.getByTestId('toggle-jobs').click();
    const job = page.locator('[data-testid=job][data-kind=training][data-status=done]');
    expect(await job.innerText()).toContain('Train explainers: Colour ResNet on train');
    await page.keyboard.press('Escape');
    expect(app.pageErrors).toEqual([]);
  });
});
