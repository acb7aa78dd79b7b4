/**
 * From labels to the concept atlas in the app (Chromium against the browser host): an analyst labels
 * concepts, ratings and pairs at the desktop by keys, a second analyst's answers come through the
 * services; the Global panel (Shift+G) then shows each class's concept bars, the examples of a clicked
 * concept (which open the image), a concept renamed in the Concepts tab, the method ranking, and the
 * agreement heatmaps.
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from '../../src-main/aggregate/aggregation.ts';
import { openApp, type App } from '../support/app.ts';
import { ROOT, type TestHost } from '../support/host.ts';
import { answerByKeys, currentTask } from '../support/label-keys.ts';
import { answerAll, explainedProject, labelSession } from '../support/labelling.ts';
import { aggregationOf } from '../../src-main/aggregate/service.ts';
import { tcavResult } from '../../src-main/aggregate/tcav.ts';

let app: App;
let testHost: TestHost;
let page: Page;
let sessionId: number;

beforeAll(async () => {
  app = await openApp({ width: 1400, height: 950 }, async (host) => {
    const ws = host.workstation;
    const ids = await explainedProject(ws, join(host.dir, 'global.xaiws'), join(host.dir, 'data'), 8);
    const ana = ws.project.labels.addAnnotator('Ana', 'analyst');
    const ben = ws.project.labels.addAnnotator('Ben', 'analyst');
    sessionId = await labelSession(ws, ids, {
      name: 'Concepts',
      maxImages: 4,
      taskTypes: ['concept', 'rating', 'pairwise'],
      overlap: 2,
      goldShare: 0,
      annotatorIds: [ana.id, ben.id],
    });
    await answerAll(ws, sessionId, [ben.id]);
  });
  ({ testHost, page } = app);
});

afterAll(() => app?.close());

describe('global explanations in the app', () => {
  it('turn the labels an analyst gives at the desktop into the concept atlas', async () => {
    await page.getByTestId('toggle-labelling').click();
    await page.getByTestId('label-as-Ana').click();
    await page.getByTestId('label-task').waitFor();
    for (let i = 0; (await currentTask(page)).state === 'task' && i < 60; i++) await answerByKeys(page, i);
    const answered = testHost.workstation.project.db
      .prepare(
        "SELECT count(*) AS n FROM label_answers a JOIN annotators an ON an.id = a.annotator_id WHERE an.name = 'Ana'",
      )
      .get() as { n: number };
    expect(answered.n).toBeGreaterThan(10);
    await page.getByTestId('labelling-overlay').getByRole('button', { name: 'Close' }).click();

    await page.keyboard.press('Shift+G');
    await page.getByTestId('concept-bars').waitFor();
    const expected = await aggregate(aggregationOf(testHost.workstation));
    const first = expected.atlas[0]!;
    // Ana typed collar, sole and sleeve; those terms are in the concepts the app shows.
    const terms = expected.concepts.flatMap((c) => c.terms.map((t) => t.term));
    expect(terms).toEqual(expect.arrayContaining(['collar', 'sole', 'sleeve']));
    const bars = page.getByTestId('concept-bars').locator('g.bar');
    await expect.poll(() => bars.count()).toBe(Math.min(12, first.concepts.length));
    expect(await bars.first().getAttribute('data-concept')).toBe(first.concepts[0]!.concept);
    await expect(page.getByTestId('global-summary').innerText()).resolves.toContain(
      `${expected.overview.answers} answers from 2 annotators`,
    );

    await bars.first().click();
    const examples = page.getByTestId('concept-example');
    await expect.poll(() => examples.count()).toBe(first.concepts[0]!.examples.length);
    await expect
      .poll(() =>
        examples
          .first()
          .locator('img')
          .evaluate((img) => (img as HTMLImageElement).naturalWidth),
      )
      .toBe(112);
    await examples.first().click();
    await page.getByTestId('image-panel').waitFor();
    await expect(page.getByTestId('global-overlay').count()).resolves.toBe(0);
  });

  it('keeps a concept renamed in the Concepts tab, and shows ranking and agreement charts', async () => {
    await page.getByTestId('toggle-global').click();
    await page.getByTestId('concept-bars').waitFor();
    await page.keyboard.press('5');
    await page.getByTestId('concept-list').waitFor();
    await page.locator('input[data-term="collar"]').check();
    await page.getByTestId('concept-name').fill('neckwear');
    await page.getByTestId('concept-rename').click();
    await expect.poll(() => page.getByTestId('concept-list').innerText()).toContain('neckwear');
    expect(testHost.workstation.project.aggregate.edits().map((e) => e.edit)).toEqual([
      { op: 'rename', term: 'collar', name: 'neckwear' },
    ]);

    await page.keyboard.press('2');
    const ranking = page.getByTestId('ranking-chart').locator('g.method');
    await expect.poll(() => ranking.count()).toBe(2);
    await expect(page.getByTestId('ranking-table').innerText()).resolves.toMatch(
      /gradcam[\s\S]*layercam|layercam[\s\S]*gradcam/,
    );

    await page.keyboard.press('3');
    await expect.poll(() => page.getByTestId('agreement-heatmap').count()).toBe(2);
    await page.keyboard.press('4');
    await page.getByTestId('label-next-session').selectOption(String(sessionId));
    await expect.poll(() => page.getByTestId('label-next').locator('li').count()).toBeGreaterThan(0);
    expect(app.pageErrors).toEqual([]);
  });

  it("tests the atlas's concepts on the model (TCAV) and shows each one's score beside what people saw", async () => {
    await page.keyboard.press('1');
    await page.getByTestId('tested-concepts').waitFor();
    await page.getByTestId('tested-concepts').click({ position: { x: 5, y: 5 } }); // keys to the page, not a field
    await page.keyboard.press('Shift+T');
    const ws = testHost.workstation;
    const [model] = ws.project.models.list();
    const [dataset] = ws.project.datasets.list();
    await expect
      .poll(() => tcavResult(ws, { modelId: model!.id, datasetId: dataset!.id }), { timeout: 300_000 })
      .not.toBeNull();
    const report = tcavResult(ws, { modelId: model!.id, datasetId: dataset!.id })!;
    const scored = report.concepts.flatMap((c) => c.tested);
    expect(scored.length).toBeGreaterThan(0);
    const verdicts = page.getByTestId('tcav-verdict');
    await expect
      .poll(() => verdicts.allInnerTexts().then((t) => t.filter((v) => v.includes('TCAV')).length))
      .toBeGreaterThan(0);
    const shown = (await verdicts.allInnerTexts()).find((v) => v.includes('TCAV'))!;
    expect(shown).toMatch(/(uses it|no evidence|against it) TCAV \d\.\d\d ± \d\.\d\d \(random \d\.\d\d, p/);
    await page.screenshot({ path: join(ROOT, 'test-results', 'global-tcav.png') });
    expect(app.pageErrors).toEqual([]);
  });
});
