/** The app as a user has it in the end-to-end tests: a real browser host and one Chromium page on it. */
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser.ts';
import { startTestHost, type TestHost } from './host.ts';

export interface App {
  testHost: TestHost;
  browser: Browser;
  page: Page;
  /** Uncaught errors of the page, to assert none happened. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** `prepare` runs on the workstation before the page loads (a project to show, say). */
export async function openApp(
  viewport: { width: number; height: number },
  prepare?: (testHost: TestHost) => Promise<void>,
): Promise<App> {
  const testHost = await startTestHost();
  await prepare?.(testHost);
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(testHost.host.url);
  return {
    testHost,
    browser,
    page,
    pageErrors,
    close: async () => {
      await browser.close();
      await testHost.close();
    },
  };
}

/** The image count the grid's header shows. */
export async function gridTotal(page: Page): Promise<number> {
  return Number((await page.getByTestId('total').innerText()).replace(/[^0-9]/g, ''));
}

/** Waits for the first job of a kind to show as done in the Jobs panel. */
export async function jobDone(page: Page, kind: string): Promise<void> {
  await page.locator(`[data-testid=job][data-kind=${kind}][data-status=done]`).first().waitFor({ timeout: 600_000 });
}

/** How many cells the grid's first row holds. */
export function gridColumns(page: Page): Promise<number> {
  // A string, so that this module needs no DOM types (it also runs under the node config).
  return page.evaluate(`(() => {
    const cells = [...document.querySelectorAll('[data-testid=cell]')];
    const top = cells[0].getBoundingClientRect().top;
    return cells.filter((cell) => cell.getBoundingClientRect().top === top).length;
  })()`) as Promise<number>;
}
