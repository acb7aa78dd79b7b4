/**
 * Stepping through a computed counterfactual path in Debian's Chromium: for 60 arrow-key presses in
 * the counterfactual view, the time from the key event to the DOM showing the new step, and to the
 * second animation frame after it (the frame that shows the new image on screen).
 * Run: node --import tsx bench/path-steps.ts   (needs npm run build first)
 */
import { join } from 'node:path';
import { launchChromium } from '../test/support/browser.ts';
import { ROOT, startTestHost } from '../test/support/host.ts';
import { addModel } from '../src-main/models/service.ts';
import { startImport } from '../src-main/datasets/service.ts';

const testHost = await startTestHost();
const { workstation } = testHost;
await workstation.createProject(join(testHost.dir, 'steps.xaiws'));
await addModel(workstation, { path: join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx') });
const datasetId = (
  await workstation.jobs.wait(startImport(workstation, { source: join(ROOT, 'resources/datasets/fashion-mnist') }).id)
).result!.datasetId as number;
void datasetId;

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(testHost.host.url);
  await page.getByTestId('cell').nth(0).click();
  await page.keyboard.press('p');
  await page.getByTestId('path-strip').waitFor({ timeout: 60_000 });
  const samples = await page.evaluate(async () => {
    const caption = document.querySelector<HTMLElement>('[data-testid=path-caption]')!;
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Home', bubbles: true })); // from step 0: ten right, ten left, ...
    await new Promise((resolve) => setTimeout(resolve, 100));
    const dom: number[] = [];
    const painted: number[] = [];
    for (let i = 0; i < 60; i++) {
      const key = Math.floor(i / 10) % 2 === 0 ? 'ArrowRight' : 'ArrowLeft';
      const before = caption.dataset.step;
      const started = performance.now();
      window.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
      for (let spin = 0; caption.dataset.step === before && spin < 100_000; spin++) await Promise.resolve();
      dom.push(performance.now() - started);
      // (inline: a named helper inside evaluate would need esbuild's __name in the page)
      await new Promise((resolve) => requestAnimationFrame(resolve));
      await new Promise((resolve) => requestAnimationFrame(resolve));
      painted.push(performance.now() - started);
    }
    return { dom, painted };
  });
  const percentile = (values: number[], p: number) =>
    [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;
  const summary = (values: number[]) => ({
    median: Number(percentile(values, 50).toFixed(2)),
    p95: Number(percentile(values, 95).toFixed(2)),
    max: Number(Math.max(...values).toFixed(2)),
  });
  console.log(
    JSON.stringify(
      { steps: samples.dom.length, keyToDomMs: summary(samples.dom), keyToSecondFrameMs: summary(samples.painted) },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  await testHost.close();
}
