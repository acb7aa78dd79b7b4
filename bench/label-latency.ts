/**
 * Answer latency in Debian's Chromium, for an analyst at the desktop (browser host) and a participant
 * on the crowd page: 150 rating tasks answered by keys (the second digit answers and advances). From
 * the page's performance marks: key press to the acknowledgement (the answer row is committed with
 * synchronous=FULL before the host replies), and key press to the next task displayed (the animation
 * frame after the next task is rendered). The in-process commit time of the same answers is beside.
 * Run: node --import tsx bench/label-latency.ts   (needs npm run build first)
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/support/browser.ts';
import { startTestHost } from '../test/support/host.ts';
import { explainedProject, labelSession } from '../test/support/labelling.ts';

const ANSWERS = 150;
const testHost = await startTestHost();
const { workstation } = testHost;
const ids = await explainedProject(workstation, join(testHost.dir, 'latency.xaiws'), join(testHost.dir, 'data'), 100);
const ana = workstation.project.labels.addAnnotator('Ana', 'analyst');
const desk = await labelSession(workstation, ids, {
  name: 'Desk',
  maxImages: 100,
  overlap: 1,
  goldShare: 0,
  annotatorIds: [ana.id],
});
const crowdSession = await labelSession(workstation, ids, {
  name: 'Crowd',
  maxImages: 100,
  overlap: 1,
  goldShare: 0,
  openSeats: 1,
  gamification: 'off',
});
const crowd = await workstation.crowds.open(crowdSession, '127.0.0.1');

// In-process commit time: wrap the answer write of the project's repository.
const commits: number[] = [];
const store = workstation.project.answers;
const write = store.writeAnswer.bind(store);
store.writeAnswer = (row) => {
  const started = performance.now();
  const result = write(row);
  commits.push(performance.now() - started);
  return result;
};

async function answerMany(page: Page): Promise<{ ack: number[]; shown: number[] }> {
  await page.getByTestId('rating-task').waitFor();
  for (let i = 0; i < ANSWERS; i++) {
    const before = await page.getByTestId('label-task').getAttribute('data-task-id');
    await page.keyboard.press(String(1 + (i % 5)));
    await page.keyboard.press(String(1 + ((i + 2) % 5)));
    await page.locator(`[data-testid=label-task]:not([data-task-id="${before}"])`).waitFor();
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  }
  // (inline: a named helper inside evaluate would need esbuild's __name in the page)
  const [keys, acks, shown] = await page.evaluate(() =>
    ['label:key', 'label:ack', 'label:shown'].map((name) => performance.getEntriesByName(name).map((e) => e.startTime)),
  );
  return { ack: keys!.map((k, i) => acks![i]! - k), shown: keys!.map((k, i) => shown![i]! - k) };
}

const p = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1));
};
const summary = (values: number[]) => ({ p50: p(values, 0.5), p95: p(values, 0.95), max: p(values, 1) });

const browser = await launchChromium();
try {
  const deskPage = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await deskPage.goto(testHost.host.url);
  await deskPage.getByTestId('toggle-labelling').click();
  await deskPage.getByRole('button', { name: /^Desk/ }).click();
  await deskPage.getByTestId('label-as-Ana').click();
  commits.length = 0;
  const deskTimes = await answerMany(deskPage);
  const deskCommits = [...commits];

  const crowdPage = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  await crowdPage.goto(crowd.url);
  await crowdPage.getByTestId('join-name').fill('Pia');
  await crowdPage.getByRole('button', { name: 'Join' }).click();
  commits.length = 0;
  const crowdTimes = await answerMany(crowdPage);

  const rows = {
    desktop: {
      keyToCommitted: summary(deskTimes.ack),
      keyToNextTaskShown: summary(deskTimes.shown),
      commitInProcess: summary(deskCommits),
    },
    crowd: {
      keyToCommitted: summary(crowdTimes.ack),
      keyToNextTaskShown: summary(crowdTimes.shown),
      commitInProcess: summary(commits),
    },
  };
  console.log(JSON.stringify({ answers: ANSWERS, ms: rows }, null, 2));
  console.log(`targets: key to committed row p95 < 20 ms, answer to next task shown p95 < 100 ms`);
} finally {
  await browser.close();
  await testHost.close();
}
