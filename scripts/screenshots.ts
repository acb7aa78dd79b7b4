/**
 * Screenshots of every view, in both themes, into docs/screenshots/ (run: npm run screenshots).
 * Uses the demo project in a temporary home, the built renderer and Debian's Chromium.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../test/support/browser.ts';
import { ROOT, startTestHost } from '../test/support/host.ts';

const out = process.argv[2] ?? join(ROOT, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const testHost = await startTestHost();
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(testHost.host.url);
  await page.screenshot({ path: join(out, 'start.png') });
  await page.getByTestId('open-demo').click();
  await page.getByTestId('toggle-jobs').click();
  await page.locator('[data-testid=job][data-kind=inference][data-status=done]').waitFor({ timeout: 120_000 });
  await page.screenshot({ path: join(out, 'jobs.png') });
  await page.keyboard.press('Escape');
  await page.locator('[data-testid=row-thumbnails][data-drawn]').first().waitFor();
  await page.getByTestId('cell').nth(0).click();
  await page.getByTestId('probabilities').waitFor();
  await page.locator('[data-testid=explanation-status]', { hasText: ' 7×7' }).waitFor();
  await page.screenshot({ path: join(out, 'browser.png') });
  await page.getByTestId('explain-method').selectOption('scorecam');
  await page.getByTestId('explain-colormap').selectOption('inferno');
  await page.locator('[data-testid=explanation-status]', { hasText: 'Score-CAM for' }).waitFor();
  await page.getByTestId('image-panel').screenshot({ path: join(out, 'explanation-panel.png') });
  await page.keyboard.press('g');
  await page.locator('[data-testid=method-grid] [data-testid=heatmap-canvas]').nth(7).waitFor();
  await page.screenshot({ path: join(out, 'methods.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('k');
  await page.locator('[data-testid=cluster-layer]').nth(2).waitFor({ timeout: 60_000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'layers.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('q');
  await page.getByTestId('deletion-auc').waitFor({ timeout: 60_000 });
  await page.getByTestId('run-sanity').click();
  await page.getByTestId('sanity-steps').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'metrics.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('d');
  await page.getByTestId('part-distinct').waitFor({ timeout: 60_000 });
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(out, 'decomposition.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('p');
  await page.getByTestId('path-strip').waitFor({ timeout: 60_000 });
  await page.getByTestId('index-pca').click();
  await page.getByTestId('code-map-canvas').waitFor({ timeout: 120_000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'counterfactual.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('i');
  await page.locator('[data-testid=component]').nth(2).waitFor({ timeout: 60_000 });
  await page.locator('[data-testid=prototype]').first().waitFor();
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(out, 'components.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('e');
  await page.locator('[data-testid=compare-component]').nth(2).waitFor({ timeout: 60_000 });
  await page.locator('[data-testid=compare-cam]').first().waitFor({ timeout: 60_000 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'compare.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('c');
  await page.getByTestId('accuracy').waitFor();
  await page.screenshot({ path: join(out, 'confusion.png') });
  await page.getByTestId('cell-6-0').click();
  await page.getByTestId('cell').nth(2).click();
  await page.keyboard.press('t');
  await page.getByTestId('probabilities').waitFor();
  await page.waitForTimeout(500); // the panel's full image and the row canvases settle
  await page.screenshot({ path: join(out, 'filtered-dark.png') });
  await page.getByTestId('open-decomposition').click();
  await page.getByTestId('part-distinct').waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Decompose filtered' }).click();
  await page.locator('[data-testid=job][data-kind=generative][data-status=done]').waitFor({ timeout: 120_000 });
  await page.keyboard.press('Escape');
  await page.keyboard.press('Escape');
  await page
    .locator('[data-testid=grid-overlay] option', { hasText: 'DXAI' })
    .waitFor({ state: 'attached', timeout: 30_000 });
  const option = await page.locator('[data-testid=grid-overlay] option', { hasText: 'DXAI' }).getAttribute('value');
  await page.getByTestId('grid-overlay').selectOption(option!);
  await page.waitForFunction(
    () => Number(document.querySelector<HTMLCanvasElement>('[data-testid=row-thumbnails]')?.dataset.overlays ?? 0) > 0,
    undefined,
    { timeout: 30_000 },
  );
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'grid-overlay-dark.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('j');
  await page.screenshot({ path: join(out, 'jobs-dark.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  await page.screenshot({ path: join(out, 'help-dark.png') });
  await page.keyboard.press('Escape');
  await page.keyboard.press('o');
  await page.getByTestId('back-to-project').waitFor();
  await page.screenshot({ path: join(out, 'projects-dark.png') });
  console.log(`screenshots in ${out}`);
} finally {
  await browser.close();
  await testHost.close();
}
