/** Answering whatever task a labelling page shows, with the keyboard only, as a person would. */
import type { Page } from 'playwright-core';

export async function currentTask(page: Page): Promise<{ id: string; state: string }> {
  const section = page.getByTestId('label-task');
  return {
    id: (await section.getAttribute('data-task-id')) ?? '',
    state: (await section.getAttribute('data-state')) ?? '',
  };
}

/** Answers the task on screen by keys and waits until the next one (or the end) is shown. */
export async function answerByKeys(page: Page, choice = 0): Promise<string> {
  const before = await currentTask(page);
  if (await page.getByTestId('rating-task').count()) {
    await page.keyboard.press(String(1 + (choice % 5)));
    await page.keyboard.press(String(1 + ((choice + 1) % 5)));
  } else if (await page.getByTestId('pairwise-task').count()) {
    await page.keyboard.press(choice % 2 ? 'ArrowRight' : 'ArrowLeft');
  } else if (await page.getByTestId('concept-task').count()) {
    if ((await page.getByTestId('concept-task').locator('button', { hasText: /./ }).count()) > 1)
      await page.keyboard.press(String(1 + (choice % 2))); // a pick
    if (!(await page.locator('[data-testid=concept-task] input:focus').count())) await page.keyboard.press('t');
    await page.keyboard.type(['collar', 'sole', 'sleeve'][choice % 3]!);
    await page.keyboard.press('Enter');
  } else if (await page.getByTestId('reveal-task').count()) {
    await page.keyboard.press(' ');
    await page.getByTestId('reveal-image').waitFor();
    // A key pressed while the next step is being fetched is ignored, as a person's would be: wait for it.
    await page.locator('[data-testid=label-task]:not([aria-busy=true])').waitFor();
    await page.keyboard.press(String(choice % 10));
    await page.keyboard.press('Enter');
  } else {
    throw new Error(`No task on screen (state ${before.state})`);
  }
  await page.locator(`[data-testid=label-task]:not([data-task-id="${before.id}"])`).waitFor();
  return before.id;
}
