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
