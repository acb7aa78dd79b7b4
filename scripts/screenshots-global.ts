/**
 * Screenshots of the Global panel into docs/screenshots/ (part of npm run screenshots): the concept
 * atlas with a concept's examples, the method ranking with faithfulness metrics, the agreement
 * heatmaps, disagreement and label-next, the concept editor, and the HTML report. A small real
 * project: 12 Fashion-MNIST images, Grad-CAM, LayerCAM and XGrad-CAM maps at two layers, a session
 * of every task type answered by three analysts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { aggregate } from '../src-main/aggregate/aggregation.ts';
import { reportHtml } from '../src-main/aggregate/report.ts';
import { launchChromium } from '../test/support/browser.ts';
import { ROOT, startTestHost } from '../test/support/host.ts';
import { answerAll, explainedProject, LAYER, labelSession } from '../test/support/labelling.ts';
import { aggregationOf, startFaithfulness } from '../src-main/aggregate/service.ts';
import { startExplain } from '../src-main/explain/service.ts';

const out = process.argv[2] ?? join(ROOT, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const testHost = await startTestHost();
const ws = testHost.workstation;
const ids = await explainedProject(ws, join(testHost.dir, 'global.xaiws'), join(testHost.dir, 'data'), 12);
const EARLY = '/features/features.6/Relu_output_0';
const query = {
  datasetId: ids.datasetId,
  correctness: 'all' as const,
  confidenceMin: 0,
  confidenceMax: 1,
  sort: 'id' as const,
};
await ws.jobs.wait(startExplain(ws, { modelId: ids.modelId, method: 'xgradcam', layer: LAYER, target: -1, query }).id);
await ws.jobs.wait(startExplain(ws, { modelId: ids.modelId, method: 'gradcam', layer: EARLY, target: -1, query }).id);
const analysts = ['Ana', 'Ben', 'Chen'].map((name) => ws.project.labels.addAnnotator(name, 'analyst').id);
const sources = [
  { kind: 'cam' as const, method: 'gradcam', layer: LAYER, target: -1 },
  { kind: 'cam' as const, method: 'layercam', layer: LAYER, target: -1 },
  { kind: 'cam' as const, method: 'xgradcam', layer: LAYER, target: -1 },
  { kind: 'cam' as const, method: 'gradcam', layer: EARLY, target: -1 },
];
const sessionId = await labelSession(ws, ids, {
  name: 'Fashion concepts',
  sources,
  maxImages: 10,
  taskTypes: ['rating', 'pairwise', 'concept', 'reveal'],
  overlap: 3,
  goldShare: 0.1,
  annotatorIds: analysts,
});
await answerAll(ws, sessionId, analysts);
await ws.jobs.wait(startFaithfulness(ws, { steps: 20 }).id);

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(testHost.host.url);
  await page.getByTestId('toggle-global').click();
  await page.getByTestId('concept-bars').waitFor();
  await page.getByTestId('concept-bars').locator('g.bar').first().click();
  await page.getByTestId('concept-example').first().locator('img').waitFor();
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'global-atlas.png') });
  for (const [key, file] of [
    ['2', 'global-methods.png'],
    ['3', 'global-agreement.png'],
    ['5', 'global-concepts.png'],
  ] as const) {
    await page.keyboard.press(key);
    await page.waitForTimeout(400);
    await page.screenshot({ path: join(out, file) });
  }
  await page.keyboard.press('4');
  await page.getByTestId('label-next-session').selectOption(String(sessionId));
  await page.getByTestId('label-next').locator('li').first().waitFor();
  await page.screenshot({ path: join(out, 'global-disagreement.png') });

  const html = join(testHost.dir, 'report.html');
  writeFileSync(html, await reportHtml(ws.project, ws.images, await aggregate(aggregationOf(ws))));
  const report = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
  await report.goto(pathToFileURL(html).href);
  await report.screenshot({ path: join(out, 'report-top.png') });
  await report.locator('#atlas').evaluate((node) => node.scrollIntoView());
  await report.screenshot({ path: join(out, 'report-atlas.png') });
  console.log(`global screenshots in ${out}`);
} finally {
  await browser.close();
  await testHost.close();
}
