/**
 * What a new user meets, in Chromium against the browser host: the demo being built on the first start
 * (its progress, not "Import a dataset"), a confusion-matrix cell that shows exactly its images, filters
 * that belong to their dataset and outlive a reload, a labelling session built from exactly the
 * filtered images (confidence too) with what it cannot build said first, key hints readable on every
 * button, rating questions inside their box, and the Global panel after a realistic pilot (two
 * annotators, two methods, ratings, pairs and the reveal game, one careful and one careless) without a
 * raw validation error on any tab.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../src-shared/contract.ts';
import type { AnswerInput, TaskView } from '../../src-shared/schemas/labels.ts';
import { answer, next } from '../../src-main/labels/tasks.ts';
import { reveal } from '../../src-main/labels/reveal.ts';
import { openApp, type App } from '../support/app.ts';
import { answerByKeys } from '../support/label-keys.ts';
import { classFolderTree } from '../support/fixtures.ts';
import { ROOT, type TestHost } from '../support/host.ts';
import { LAYER } from '../support/labelling.ts';
import { startImport } from '../../src-main/datasets/service.ts';
import { startExplain } from '../../src-main/explain/service.ts';
import { createSession, getSession, inlineImage, seatOf } from '../../src-main/labels/service.ts';

let app: App;
let testHost: TestHost;
let page: Page;

beforeAll(async () => {
  app = await openApp({ width: 1400, height: 950 });
  ({ testHost, page } = app);
});

afterAll(() => app?.close());

const ws = () => testHost.workstation;
/** Screenshots to look at after a run (test-results/ is not committed). */
const shot = (name: string) => page.screenshot({ path: join(ROOT, 'test-results', `new-user-${name}.png`) });
const total = async () => Number((await page.getByTestId('total').innerText()).replace(/[^0-9]/g, ''));
const running = (kind: Job['kind']) =>
  ws().hasProject &&
  ws()
    .jobs.list()
    .some((job) => job.kind === kind && (job.status === 'running' || job.status === 'queued'));

/** The import worker of this process (forked by the workstation), once it has started. */
function importWorker(): number {
  try {
    return Number(
      execFileSync('pgrep', ['-n', '-P', String(process.pid), '-f', 'import-worker'], { encoding: 'utf8' }).trim(),
    );
  } catch {
    return 0;
  }
}

/** Contrast ratio (WCAG) between an element's text colour and its own background colour. */
async function contrast(locator: ReturnType<Page['locator']>): Promise<number> {
  return locator.evaluate((element) => {
    const style = getComputedStyle(element);
    const luminance = (css: string) => {
      const [r, g, b] = css
        .match(/\d+(\.\d+)?/g)!
        .slice(0, 3)
        .map(Number)
        .map((v) => v / 255)
        .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const [a, b] = [luminance(style.color), luminance(style.backgroundColor)].sort((x, y) => y - x);
    return (a! + 0.05) / (b! + 0.05);
  });
}

describe('a new user', () => {
  it('sees the demo being built on the first start, with its progress', async () => {
    await page.getByTestId('open-demo').click();
    // Hold the import still, as a slow disk would, to look at the screen while it runs.
    await expect.poll(importWorker, { interval: 5 }).toBeGreaterThan(0);
    const worker = importWorker();
    process.kill(worker, 'SIGSTOP');
    try {
      await page.getByTestId('grid-importing').waitFor();
      await expect(page.getByTestId('grid-importing').innerText()).resolves.toMatch(/Import Fashion-MNIST test set/);
      expect(await page.getByText('Import a dataset to start.').count()).toBe(0);
      await shot('first-start');
    } finally {
      process.kill(worker, 'SIGCONT');
    }
    await expect
      .poll(() => running('import') || running('inference') || ws().project.predictions.count(1, 1) < 10_000)
      .toBe(false);
    await expect.poll(total).toBe(10_000);
  });

  it('opens a confusion-matrix cell with exactly its images, whatever was filtered before', async () => {
    await page.getByTestId('filter-confidence-min').fill('90');
    await page.getByTestId('filter-confidence-min').press('Enter');
    await expect.poll(total).toBeLessThan(10_000);
    await page.keyboard.press('Escape');
    await page.keyboard.press('c');
    const cell = page.getByTestId('cell-6-0'); // true Shirt, predicted T-shirt/top
    const count = Number(await cell.innerText());
    expect(count).toBeGreaterThan(0);
    await cell.click();
    await expect.poll(total).toBe(count);
    await expect(page.getByTestId('filter-confidence-min').inputValue()).resolves.toBe('0');
  });

  it('keeps filters with their dataset, and across a reload', async () => {
    const tree = await classFolderTree();
    await ws().jobs.wait(startImport(ws(), { source: tree.root, name: 'Pets', maxPixels: 100_000 }).id);
    await page.getByRole('button', { name: /^Clear/ }).click();
    await page.getByTestId('filter-true-class').selectOption('Bag');
    await expect.poll(total).toBe(1000);
    await page.getByRole('button', { name: /^Pets/ }).click();
    await expect.poll(total).toBe(tree.good); // not the Fashion-MNIST filter on the pets (0 images)
    await expect(page.getByTestId('filter-true-class').inputValue()).resolves.toBe('');
    await page.getByRole('button', { name: /^Fashion-MNIST test set/ }).click();
    await expect.poll(total).toBe(1000);
    await page.reload();
    await expect.poll(total).toBe(1000);
    await expect(page.getByTestId('filter-true-class').inputValue()).resolves.toBe('Bag');
  });

  it('builds a labelling session from exactly the filtered images, and says first what it cannot build', async () => {
    const modelId = ws().project.models.list()[0]!.id;
    const datasetId = ws().project.datasets.list()[0]!.id;
    const bags = {
      datasetId,
      trueClass: 'Bag',
      correctness: 'all' as const,
      confidenceMin: 0,
      confidenceMax: 1,
      sort: 'id' as const,
    };
    await ws().jobs.wait(
      startExplain(ws(), { modelId, method: 'gradcam', layer: LAYER, target: -1, query: { ...bags, modelId } }).id,
    );
    const sure = Array.from(ws().project.images.matchingIds({ ...bags, modelId, confidenceMin: 0.999 }));
    expect(sure.length).toBeGreaterThan(10);
    await page.getByTestId('filter-confidence-min').fill('99.9');
    await page.getByTestId('filter-confidence-min').press('Enter');
    await expect.poll(total).toBe(sure.length);
    await page.keyboard.press('Escape');
    await page.getByTestId('toggle-labelling').click();
    await page.getByTestId('annotator-name').fill('Ana');
    await page.getByTestId('annotator-name').press('Enter');
    await page.getByTestId('new-session').click();
    const form = page.getByTestId('session-form');
    await expect.poll(() => form.innerText()).toContain(`maps on ${sure.length} of these images`);
    await expect
      .poll(() =>
        form.getByTestId('session-source').evaluateAll((boxes) => boxes.map((b) => (b as HTMLInputElement).checked)),
      )
      .toEqual([true]);
    await form.getByRole('checkbox', { name: 'Ana analyst' }).check();
    await form.getByLabel('Annotators per item').fill('1');
    await form.getByText('Pairwise choice').click();
    await form.getByText('Concept label of a region').click();
    await form.getByLabel('Images at most').fill('12');
    // A pair compares two methods: with one source it has no tasks, and the form says so before anything is built.
    await expect.poll(() => form.getByTestId('session-problems').innerText()).toMatch(/Pairwise choice: no tasks/);
    await shot('session-form');
    await form.getByRole('button', { name: 'Create session' }).click();
    await page.getByTestId('session-view').waitFor();
    const sessionId = ws().project.labels.sessions()[0]!.id;
    const shown = ws()
      .project.db.prepare('SELECT image_id AS id, confidence FROM label_images WHERE session_id = ?')
      .all(sessionId) as { id: number; confidence: number }[];
    expect(shown.length).toBe(12);
    for (const image of shown) expect(sure).toContain(image.id);
    const types = ws()
      .project.db.prepare('SELECT DISTINCT task_type AS t FROM label_items WHERE session_id = ?')
      .all(sessionId)
      .map((r) => (r as { t: string }).t)
      .sort();
    expect(types).toEqual(['concept', 'rating']); // concept labels of the Grad-CAM maps, as ticked
  });

  it('shows readable key hints on every kind of button, and each rating question inside its box', async () => {
    await page.getByTestId('label-as-Ana').click();
    await page.getByTestId('label-task').waitFor();
    for (let i = 0; i < 40 && !(await page.getByTestId('rating-task').count()); i++) await answerByKeys(page, i);
    await page.keyboard.press('4'); // a chosen score button
    const hints = page.locator(
      '[data-testid=rating-task] button.primary kbd, [data-testid=rating-task] button.chosen kbd, [data-testid=rating-task] p kbd',
    );
    expect(await hints.count()).toBeGreaterThan(0);
    for (let i = 0; i < (await hints.count()); i++) expect(await contrast(hints.nth(i))).toBeGreaterThanOrEqual(4.5);
    for (const scale of ['justifies', 'predictable']) {
      const fits = await page.getByTestId(`scale-${scale}`).evaluate((fieldset) => {
        const box = fieldset.getBoundingClientRect();
        const legend = fieldset.querySelector('legend')!.getBoundingClientRect();
        return legend.left >= box.left - 0.5 && legend.right <= box.right + 0.5;
      });
      expect(fits, scale).toBe(true);
    }
    await shot('rating-task');
    await page.getByTestId('labelling-overlay').getByRole('button', { name: 'Close' }).click();
  });

  it('shows the Global panel after a realistic pilot without a raw error on any tab', async () => {
    const project = ws().project;
    const modelId = project.models.list()[0]!.id;
    const datasetId = project.datasets.list()[0]!.id;
    // Confident mistakes: a few images of many classes, so some class has one image (two weighted ratings per method).
    const query = {
      datasetId,
      correctness: 'wrong' as const,
      confidenceMin: 0.9,
      confidenceMax: 1,
      sort: 'id' as const,
    };
    for (const method of ['gradcam', 'scorecam'] as const) {
      const job = await ws().jobs.wait(
        startExplain(ws(), { modelId, method, layer: LAYER, target: -1, query: { ...query, modelId } }).id,
      );
      expect(job, method).toMatchObject({ status: 'done' });
    }
    const careful = project.labels.addAnnotator('Careful', 'analyst').id;
    const careless = project.labels.addAnnotator('Careless', 'analyst').id;
    const sources = ['gradcam', 'scorecam'].map((method) => ({
      kind: 'cam' as const,
      method,
      layer: LAYER,
      target: -1,
    }));
    const detail = await createSession(ws(), {
      name: 'Pilot',
      modelId,
      ...query,
      maxImages: 5,
      sources,
      taskTypes: ['rating', 'pairwise', 'reveal'],
      overlap: 2,
      goldShare: 0.3,
      annotatorIds: [careful, careless],
      openSeats: 0,
      concepts: [],
      gamification: 'off',
      seed: 3,
    });
    // The careful annotator gets the gold items right (the test may look at them), the careless one rates everything 5.
    for (const annotatorId of [careful, careless]) {
      const seat = () => seatOf(ws(), detail.id, annotatorId);
      for (let upcoming = next(project, seat(), inlineImage(ws())); upcoming.state === 'task';) {
        const task: TaskView = upcoming.task!;
        const item = project.labels.item(project.answers.taskByUuid(task.taskId)!.itemId)!;
        const gold =
          item.gold === null
            ? null
            : (JSON.parse(item.gold) as { type: string; choice?: 'a' | 'b'; classIndex?: number });
        let given: AnswerInput;
        if (task.type === 'reveal') {
          await reveal(project, ws().images, seat(), task.taskId, 2);
          given = {
            type: 'reveal',
            guess: annotatorId === careful ? (gold?.classIndex ?? 7) : 0,
            resigned: false,
            text: 'sole',
          };
        } else if (task.type === 'pairwise')
          given = { type: 'pairwise', choice: annotatorId === careful && gold ? gold.choice! : 'a' };
        else
          given = {
            type: 'rating',
            scores:
              annotatorId === careful
                ? gold
                  ? { justifies: 1, predictable: 1 }
                  : { justifies: 4, predictable: 3 }
                : { justifies: 5, predictable: 5 },
            comment: '',
          };
        upcoming = answer(project, seat(), task.taskId, given, 'local', inlineImage(ws())).next;
      }
    }
    const methods = ws()
      .project.db.prepare(
        "SELECT DISTINCT json_extract(explanations, '$[0].method') AS m FROM label_items WHERE session_id = ?",
      )
      .all(detail.id)
      .map((r) => (r as { m: string }).m)
      .sort();
    expect(methods).toEqual(['gradcam', 'scorecam']);
    const seats = getSession(ws(), { sessionId: detail.id }).seats;
    expect(seats.map((s) => s.answered)).toEqual(seats.map((s) => s.tasks));
    expect(new Set(seats.map((s) => s.reliability)).size).toBe(2);
    await page.keyboard.press('Shift+G');
    await page.getByTestId('global-summary').waitFor();
    for (const key of ['1', '2', '3', '4', '5']) {
      await page.keyboard.press(key);
      await page.getByTestId('global').waitFor();
      expect(await page.getByTestId('global-error').count(), `tab ${key}`).toBe(0);
    }
    await page.keyboard.press('2');
    await page.getByTestId('ranking-table').waitFor();
    const text = await page.getByTestId('ranking-table').innerText();
    expect(text).not.toMatch(/NaN|invalid|expected number/i);
    await shot('global-pilot');
    expect(app.pageErrors).toEqual([]);
  });

  it('switches between light and dark themes with T', async () => {
    await page.keyboard.press('Escape');
    const before = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.keyboard.press('t');
    const after = await page.evaluate(() => document.documentElement.dataset.theme);
    expect(new Set([before, after])).toEqual(new Set(['light', 'dark']));
  });

  it('shows a readable error that names the offending path', async () => {
    await page.keyboard.press('Escape');
    await page.getByTestId('import-source').fill('/no/such/folder');
    await page.getByTestId('import-button').click();
    await expect.poll(() => page.getByTestId('toast-error').last().innerText()).toContain('/no/such/folder');
    expect(app.pageErrors).toEqual([]);
  });
});
