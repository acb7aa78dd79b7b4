/**
 * Labelling end to end in Chromium: the owner builds a session in the app, opens it to the network;
 * two participants join the crowd host from their own browsers at once, go through the tutorial and
 * label with the keyboard; the owner sees their progress live; a reload resumes where it was; a wrong
 * join code is refused; an analyst labels at the desktop and changes an answer from the history.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.ts';
import { startTestHost, type TestHost } from '../support/host.ts';
import { answerByKeys, currentTask } from '../support/label-keys.ts';
import { explainedProject, LAYER } from '../support/labelling.ts';
import { listSessions } from '../../src-main/labels/service.ts';
import { modelScope } from '../../src-main/runtime/context.ts';

let testHost: TestHost;
let browser: Browser;
let owner: Page;
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];
let crowdUrl = '';
let code = '';

beforeAll(async () => {
  testHost = await startTestHost();
  await explainedProject(testHost.workstation, join(testHost.dir, 'labels.xaiws'), join(testHost.dir, 'data'), 8);
  testHost.workstation.project.labels.addAnnotator('Ana', 'analyst');
  browser = await launchChromium();
  owner = await browser.newPage({ viewport: { width: 1400, height: 950 } });
  owner.on('pageerror', (error) => pageErrors.push(error.message));
  await owner.goto(testHost.host.url);
});

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await testHost?.close();
});

async function participant(name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  await page.goto(crowdUrl);
  return page;
}

describe('a crowd labelling session', () => {
  it('is built in the app from the cached explanations and opened to the network with a code and QR', async () => {
    await owner.getByTestId('toggle-labelling').click();
    await owner.getByTestId('new-session').click();
    const form = owner.getByTestId('session-form');
    await expect.poll(() => form.innerText()).toContain('Grad-CAM · features › 10');
    await form.getByLabel('Open seats (network)').fill('2');
    await form.getByText('Pairwise choice').click();
    await form.getByText('Deep Reveal game').click();
    await form.getByRole('button', { name: 'Create session' }).click();
    await owner.getByTestId('session-view').waitFor();
    const detail = listSessions(testHost.workstation)[0]!;
    expect(detail.taskTypes).toEqual(['rating', 'pairwise', 'reveal']);
    // The test host lives on loopback; the app's button would pick the LAN address.
    await owner.getByLabel('Interface address').fill('127.0.0.1');
    await owner.getByTestId('open-crowd').click();
    await owner.getByTestId('crowd-qr').locator('svg').waitFor();
    crowdUrl = (await owner.getByTestId('crowd-url').innerText()).trim();
    code = (await owner.getByTestId('crowd-code').innerText()).trim();
    expect(crowdUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?code=[A-Z2-9]{6}$/);
  });

  it('refuses a wrong join code by name', async () => {
    const page = await participant('intruder');
    await page.getByTestId('join-code').fill('WRONG1');
    await page.getByTestId('join-name').fill('Eve');
    await page.getByRole('button', { name: 'Join' }).click();
    await expect
      .poll(() => page.getByTestId('join-error').innerText())
      .toContain('"WRONG1" is not this session\'s join code');
    expect(testHost.workstation.project.labels.annotators().map((a) => a.name)).not.toContain('Eve');
  });

  it('lets two participants label at once, tutorial first, with the keyboard; the owner sees it live', async () => {
    const pages = await Promise.all(
      ['Pia', 'Max'].map(async (name) => {
        const page = await participant(name);
        expect(await page.getByTestId('join-code').inputValue()).toBe(code); // the QR URL carries the code
        await page.getByTestId('join-name').fill(name);
        await page.getByRole('button', { name: 'Join' }).click();
        await page.getByTestId('practice-banner').waitFor();
        return page;
      }),
    );
    const answered = await Promise.all(
      pages.map(async (page, p) => {
        // The practice round: one task per task type, but none that shows an image the participant will play in the reveal game.
        let practised = 0;
        while (await page.getByTestId('practice-banner').count()) await answerByKeys(page, practised++ + p);
        expect(practised).toBeGreaterThanOrEqual(1);
        expect(practised).toBeLessThanOrEqual(3);
        await page.getByTestId('practice-feedback').waitFor();
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) ids.push(await answerByKeys(page, i + p));
        return ids;
      }),
    );
    const store = testHost.workstation.project.labels;
    const sessionId = store.sessions()[0]!.id;
    expect(store.counts(sessionId).answered).toBe(12);
    for (const ids of answered)
      for (const id of ids)
        expect(
          testHost.workstation.project.answers.answer(testHost.workstation.project.answers.taskByUuid(id)!.id),
        ).toBeDefined();
    await expect.poll(() => pages[0]!.getByTestId('label-progress').innerText()).toMatch(/^6 \/ \d+$/);
    expect(await pages[0]!.getByTestId('points').innerText()).toMatch(/\d+ points/);
    await expect.poll(() => owner.getByTestId('seats').innerText()).toMatch(/Pia \(participant\)\s+6 \/ \d+/);
    await expect.poll(() => owner.getByTestId('seats').innerText()).toMatch(/Max \(participant\)\s+6 \/ \d+/);

    // Pia's connection drops (a reload): she resumes at the same task with nothing lost.
    const before = await currentTask(pages[0]!);
    await pages[0]!.reload();
    await expect.poll(async () => (await currentTask(pages[0]!)).id).toBe(before.id);
    expect(await pages[0]!.getByTestId('label-progress').innerText()).toMatch(/^6 \//);
    // Z reopens the last answer; changing it keeps the count and bumps the revision.
    await pages[0]!.keyboard.press('z');
    await expect.poll(async () => (await currentTask(pages[0]!)).id).toBe(answered[0]![5]);
    await answerByKeys(pages[0]!, 3);
    const answers = testHost.workstation.project.answers;
    expect(answers.answer(answers.taskByUuid(answered[0]![5]!)!.id)!.revision).toBe(2);
    expect(store.counts(sessionId).answered).toBe(12);
  });

  it('shows the owner pausing the session to every participant', async () => {
    const sessionId = testHost.workstation.project.labels.sessions()[0]!.id;
    await owner.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => owner.getByTestId('session-state').innerText()).toBe('paused');
    const page = contexts[1]!.pages()[0]!;
    await page.reload();
    await expect.poll(() => page.getByTestId('label-message').innerText()).toContain('paused');
    await owner.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(async () => (await currentTask(page)).state).toBe('task');
    expect(testHost.workstation.project.labels.session(sessionId)!.state).toBe('open');
  });
});

describe('labelling at the desktop', () => {
  it('an analyst takes a seat, labels with keys and the history lists the answers', async () => {
    const store = testHost.workstation.project.labels;
    const ana = store.annotators().find((a) => a.name === 'Ana')!;
    const models = testHost.workstation.project.models.list();
    const { createSession } = await import('../../src-main/labels/sessions.ts');
    const { SessionRequest } = await import('../../src-shared/schemas/labels.ts');
    const datasetId = testHost.workstation.project.datasets.list()[0]!.id;
    await createSession(
      modelScope(testHost.workstation, models[0]!.id),
      SessionRequest.parse({
        name: 'Desk',
        modelId: models[0]!.id,
        datasetId,
        sources: [{ kind: 'cam', method: 'gradcam', layer: LAYER, target: -1 }],
        taskTypes: ['rating'],
        overlap: 1,
        annotatorIds: [ana.id],
      }),
    );
    await owner.keyboard.press('Escape');
    await owner.getByTestId('toggle-labelling').click();
    await owner.getByRole('button', { name: /^Desk/ }).click();
    await owner.getByTestId('label-as-Ana').click();
    await owner.getByTestId('rating-task').waitFor();
    for (let i = 0; i < 3; i++) await answerByKeys(owner, i);
    await expect.poll(() => owner.getByTestId('label-history').locator('li').count()).toBe(3);
    expect(await owner.getByTestId('label-progress').innerText()).toMatch(/^3 \//);
    expect(pageErrors).toEqual([]);
  });
});
