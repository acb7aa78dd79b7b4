/**
 * The dataset map view with 70,000 points in Debian's Chromium: the map of the 70,000 Fashion-MNIST
 * images built by the job, then in the page the time from opening the view (U) to the drawn canvas, the
 * frame times while zooming (a wheel event a frame, 120 frames) and panning (Shift+drag, 120 frames),
 * and the time from releasing a lasso over about half of the map to its selection shown.
 * Run: npm run build && node --import tsx bench/map-view.ts
 */
import { join } from 'node:path';
import { availableParallelism, cpus } from 'node:os';
import { launchChromium } from '../test/support/browser.ts';
import { ROOT, startTestHost } from '../test/support/host.ts';
import { addModel } from '../src-main/models/service.ts';
import { startImport } from '../src-main/datasets/service.ts';
import { startInference } from '../src-main/inference/service.ts';
import { startMap } from '../src-main/explain/dataset-map.ts';

const testHost = await startTestHost();
const { workstation } = testHost;
await workstation.createProject(join(testHost.dir, 'map-view.xaiws'));
const model = await addModel(workstation, { path: join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx') });
const datasetId = (
  await workstation.jobs.wait(startImport(workstation, { source: '/usr/share/datasets/fashion-mnist' }).id)
).result!.datasetId as number;
await workstation.jobs.wait(startInference(workstation, { modelId: model.id, datasetId }).id);
await workstation.jobs.wait(startMap(workstation, { modelId: model.id, datasetId, rebuild: false }).id);

const browser = await launchChromium();
const quantiles = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1));
  return { median: at(0.5), p95: at(0.95), max: at(1) };
};
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(testHost.host.url);
  await page.getByTestId('grid').waitFor();
  await page.getByTestId('grid').focus();
  const opened = Date.now();
  await page.keyboard.press('u');
  await page.getByTestId('map-canvas').waitFor({ timeout: 120_000 });
  await page.waitForFunction(() => document.querySelector('[data-testid=map-facts]') !== null);
  const openMs = Date.now() - opened;
  const box = (await page.getByTestId('map-canvas').boundingBox())!;
  const frames = (kind: 'zoom' | 'pan') =>
    page.evaluate(
      async ({ kind, box }) => {
        const canvas = document.querySelector('[data-testid=map-canvas]') as HTMLCanvasElement;
        const durations: number[] = [];
        const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
        if (kind === 'pan')
          canvas.dispatchEvent(
            new PointerEvent('pointerdown', { clientX: cx, clientY: cy, shiftKey: true, pointerId: 1, bubbles: true }),
          );
        let last = performance.now();
        for (let i = 0; i < 120; i++) {
          if (kind === 'zoom')
            canvas.dispatchEvent(
              new WheelEvent('wheel', {
                deltaY: i < 60 ? -40 : 40,
                clientX: cx,
                clientY: cy,
                bubbles: true,
                cancelable: true,
              }),
            );
          else
            canvas.dispatchEvent(
              new PointerEvent('pointermove', {
                clientX: cx + (i % 60) * 3,
                clientY: cy,
                shiftKey: true,
                pointerId: 1,
                bubbles: true,
              }),
            );
          await new Promise((resolve) => requestAnimationFrame(resolve));
          const now = performance.now();
          durations.push(now - last);
          last = now;
        }
        if (kind === 'pan')
          canvas.dispatchEvent(
            new PointerEvent('pointerup', { clientX: cx, clientY: cy, pointerId: 1, bubbles: true }),
          );
        return durations;
      },
      { kind, box },
    );
  const zoom = quantiles(await frames('zoom'));
  const pan = quantiles(await frames('pan'));
  await page.keyboard.press('f');
  // A lasso over about half of the map, drawn in the page a point a frame; then the time from releasing
  // it to the selection shown (the point-in-polygon test of every point, and the redraw).
  const path: [number, number][] = [];
  for (let i = 0; i <= 20; i++) path.push([0.02 + (0.58 * i) / 20, 0.02]);
  for (let i = 0; i <= 20; i++) path.push([0.6, 0.02 + (0.96 * i) / 20]);
  for (let i = 0; i <= 20; i++) path.push([0.6 - (0.58 * i) / 20, 0.98]);
  for (let i = 0; i <= 20; i++) path.push([0.02, 0.98 - (0.96 * i) / 20]);
  const points = path.map(([fx, fy]) => [box.x + fx * box.width, box.y + fy * box.height]);
  // Plain loops only: the page gets this function's source, without the helpers tsx would add.
  const lasso = await page.evaluate(async (points) => {
    const canvas = document.querySelector('[data-testid=map-canvas]') as HTMLCanvasElement;
    canvas.dispatchEvent(
      new PointerEvent('pointerdown', { clientX: points[0]![0], clientY: points[0]![1], pointerId: 1, bubbles: true }),
    );
    const frames: number[] = [];
    let last = performance.now();
    for (let i = 1; i < points.length; i++) {
      canvas.dispatchEvent(
        new PointerEvent('pointermove', {
          clientX: points[i]![0],
          clientY: points[i]![1],
          pointerId: 1,
          bubbles: true,
        }),
      );
      await new Promise((resolve) => requestAnimationFrame(resolve));
      const now = performance.now();
      frames.push(now - last);
      last = now;
    }
    const released = performance.now();
    const end = points[points.length - 1]!;
    canvas.dispatchEvent(
      new PointerEvent('pointerup', { clientX: end[0], clientY: end[1], pointerId: 1, bubbles: true }),
    );
    while (!document.querySelector('[data-testid=map-show-in-grid]'))
      await new Promise((resolve) => requestAnimationFrame(resolve));
    return { frames, selectMs: performance.now() - released };
  }, points);
  const lassoFrames = quantiles(lasso.frames);
  const lassoMs = Math.round(lasso.selectMs);
  const selected = await page.getByTestId('map-selection').innerText();
  console.log(
    JSON.stringify(
      {
        machine: `${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}`,
        points: 70_000,
        openMs,
        zoomFrameMs: zoom,
        panFrameMs: pan,
        lassoFrameMs: lassoFrames,
        lasso: { releaseToSelectionMs: lassoMs, selected: selected.split(' selected')[0] },
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  await testHost.close();
}
