/**
 * Screenshots of the labelling views into docs/screenshots/ (part of npm run screenshots): the owner's
 * session form and session view (seats, QR, agreement), and the participant page's join form and
 * each task type. A small real project: 12 Fashion-MNIST images with Grad-CAM and LayerCAM maps.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { answer, next } from '../src-main/labels/tasks.ts';
import { reveal } from '../src-main/labels/reveal.ts';
import { launchChromium } from '../test/support/browser.ts';
import { ROOT, startTestHost } from '../test/support/host.ts';
import { answerByKeys } from '../test/support/label-keys.ts';
import { answerFor, explainedProject, labelSession } from '../test/support/labelling.ts';

const out = process.argv[2] ?? join(ROOT, 'docs', 'screenshots');
mkdirSync(out, { recursive: true });
const testHost = await startTestHost();
const { workstation } = testHost;
const ids = await explainedProject(workstation, join(testHost.dir, 'study.xaiws'), join(testHost.dir, 'data'), 12);
const store = workstation.project.labels;
const analysts = ['Ana', 'Ben', 'Chen'].map((name) => store.addAnnotator(name, 'analyst'));
const sessionId = await labelSession(workstation, ids, {
  name: 'Fashion CAM study',
  taskTypes: ['rating', 'pairwise', 'concept', 'reveal'],
  overlap: 3,
  goldShare: 0.15,
  annotatorIds: analysts.map((a) => a.id),
  openSeats: 2,
  concepts: ['collar', 'sole', 'sleeve', 'strap', 'heel', 'handle'],
});
for (const [i, annotator] of analysts.entries()) {
  const seat = store.seatOf(sessionId, annotator.id)!;
  let state = next(workstation.project, seat, () => 'x');
  for (let n = 0; state.task && n < (i === 2 ? 12 : 1000); n++) {
    if (state.task.type === 'reveal') await reveal(workstation.project, workstation.images, seat, state.task.taskId, 2);
    state = answer(workstation.project, seat, state.task.taskId, answerFor(state.task, i), 'local', () => 'x').next;
  }
}
const crowd = await workstation.crowds.open(sessionId, '127.0.0.1');

async function showType(page: Page, type: string, file: string) {
  for (let i = 0; i < 40 && !(await page.getByTestId(`${type}-task`).count()); i++) await answerByKeys(page, i);
  if (type === 'reveal') {
    await page.keyboard.press(' ');
    await page.getByTestId('reveal-image').waitFor();
    await page.keyboard.press(' ');
    await page.waitForTimeout(200);
  }
  await page.screenshot({ path: join(out, file) });
}

const browser = await launchChromium();
try {
  const participant = await (await browser.newContext({ viewport: { width: 1100, height: 720 } })).newPage();
  await participant.goto(crowd.url);
  await participant.getByTestId('join-name').fill('Pia');
  await participant.screenshot({ path: join(out, 'label-join.png') });
  await participant.getByRole('button', { name: 'Join' }).click();
  await participant.getByTestId('practice-banner').waitFor();
  await participant.screenshot({ path: join(out, 'label-practice.png') });
  for (let i = 0; i < 4; i++) await answerByKeys(participant, i);
  for (let i = 0; i < 5; i++) await answerByKeys(participant, i);
  await showType(participant, 'rating', 'label-rating.png');
  await showType(participant, 'pairwise', 'label-pairwise.png');
  await showType(participant, 'reveal', 'label-reveal.png');
  await showType(participant, 'concept', 'label-concept.png');

  const owner = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  await owner.goto(testHost.host.url);
  await owner.getByTestId('toggle-labelling').click();
  await owner.getByTestId('session-view').waitFor();
  await owner.getByTestId('compute-agreement').click();
  await owner.getByTestId('agreement').waitFor();
  await owner.waitForTimeout(300);
  await owner.screenshot({ path: join(out, 'labelling-session.png'), fullPage: true });
  await owner.getByTestId('session-view').screenshot({ path: join(out, 'labelling-session-view.png') });
  await owner.getByTestId('new-session').click();
  await owner.getByTestId('session-form').waitFor();
  await owner.waitForTimeout(300);
  await owner.screenshot({ path: join(out, 'labelling-form.png') });
  await owner.keyboard.press('Escape');
  await owner.getByTestId('toggle-labelling').click();
  await owner.getByTestId('label-as-Chen').click();
  await owner.getByTestId('label-task').waitFor();
  await owner.evaluate(() => document.documentElement.setAttribute('data-theme', 'dark'));
  await owner.waitForTimeout(200);
  await owner.screenshot({ path: join(out, 'labelling-desk-dark.png') });
  console.log(`labelling screenshots in ${out}`);
} finally {
  await browser.close();
  await testHost.close();
}
