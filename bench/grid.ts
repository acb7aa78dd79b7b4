/**
 * The dataset browser with 70,000 images in Debian's Chromium: time from page load to the first
 * thumbnails shown; frame times while scrolling at 40 px a frame (2,400 px/s: thumbnails load as
 * rows arrive), at 240 px a frame (a fling: placeholders, then thumbnails when it stops) and through
 * the whole grid in 600 frames; and how long the thumbnails take to appear after a fling.
 * Run: node --import tsx bench/grid.ts [SOURCE]   (needs npm run build first; SOURCE: a dataset to
 * import instead of Fashion-MNIST, e.g. a folder of colour JPEGs in class folders)
 */
import { join } from 'node:path';
import { launchChromium } from '../test/support/browser.ts';
import { ROOT, startTestHost } from '../test/support/host.ts';
import { addModel } from '../src-main/models/service.ts';
import { startImport } from '../src-main/datasets/service.ts';
import { startInference } from '../src-main/inference/service.ts';

const testHost = await startTestHost();
const { workstation } = testHost;
await workstation.createProject(join(testHost.dir, 'grid.xaiws'));
const model = await addModel(workstation, { path: join(ROOT, 'resources/models/fashion-mnist-cnn/classifier.onnx') });
const datasetId = (
  await workstation.jobs.wait(
    startImport(workstation, { source: process.argv[2] ?? '/usr/share/datasets/fashion-mnist' }).id,
  )
).result!.datasetId as number;
await workstation.jobs.wait(startInference(workstation, { modelId: model.id, datasetId: datasetId }).id);

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const navigationStarted = Date.now();
  await page.goto(testHost.host.url);
  await page.waitForFunction(
    () => {
      const rows = [...document.querySelectorAll('[role=row]')];
      return (
        rows.length > 5 &&
        rows.every(
          (row) =>
            row.querySelector('canvas')?.dataset.drawn === String(row.querySelectorAll('[data-testid=cell]').length),
        )
      );
    },
    undefined,
    { polling: 'raf', timeout: 60_000 },
  );
  const firstThumbnailsMs = Date.now() - navigationStarted;
  const total = await page.getByTestId('total').innerText();

  // Scroll one step per animation frame and record each frame's duration: `pixelsPerFrame` null
  // sweeps the whole grid in 600 frames (a stress case: about 9 new rows a frame).
  const scroll = (pixelsPerFrame: number | null) =>
    page.evaluate(async (perFrame) => {
      const scroller = document.querySelector('[data-testid=grid]') as HTMLElement;
      scroller.scrollTop = 0;
      await new Promise((resolve) => setTimeout(resolve, 300));
      const durations: number[] = [];
      const steps = 600;
      const step = perFrame ?? (scroller.scrollHeight - scroller.clientHeight) / steps;
      let last = performance.now();
      for (let i = 1; i <= steps; i++) {
        scroller.scrollTop = step * i;
        await new Promise(requestAnimationFrame);
        const now = performance.now();
        durations.push(now - last);
        last = now;
      }
      return durations;
    }, pixelsPerFrame);
  const summarise = (frames: number[]) => {
    const sorted = [...frames].sort((a, b) => a - b);
    const pick = (q: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1));
    return {
      frames: frames.length,
      p50: pick(0.5),
      p95: pick(0.95),
      p99: pick(0.99),
      max: pick(1),
      over20ms: frames.filter((ms) => ms > 20).length,
    };
  };
  // After a fling: how long until every visible cell shows its thumbnail.
  const thumbnailsAfterFling = () =>
    page.evaluate(async () => {
      const started = performance.now();
      const scroller = document.querySelector('[data-testid=grid]') as HTMLElement;
      for (;;) {
        const box = scroller.getBoundingClientRect();
        const visible = [...scroller.querySelectorAll('[role=row]')].filter((row) => {
          const rect = row.getBoundingClientRect();
          return rect.bottom > box.top && rect.top < box.bottom;
        });
        if (
          visible.length > 0 &&
          visible.every(
            (row) =>
              row.querySelector('canvas')?.dataset.drawn === String(row.querySelectorAll('[data-testid=cell]').length),
          )
        ) {
          return Math.round(performance.now() - started);
        }
        await new Promise(requestAnimationFrame);
      }
    });
  const slow = summarise(await scroll(40));
  const flick = summarise(await scroll(240));
  const flickSettleMs = await thumbnailsAfterFling();
  const sweep = summarise(await scroll(null));
  const sweepSettleMs = await thumbnailsAfterFling();
  console.log(
    JSON.stringify(
      {
        images: total,
        firstThumbnailsMs,
        scroll40pxPerFrame: slow,
        scroll240pxPerFrame: { ...flick, thumbnailsAfterMs: flickSettleMs },
        scrollWholeGridIn600Frames: { ...sweep, thumbnailsAfterMs: sweepSettleMs },
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
  await testHost.close();
}
