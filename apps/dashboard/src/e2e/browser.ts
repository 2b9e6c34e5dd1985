import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@facefleet/test-support';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's chromium (scripts/setup.sh installs it); `npx playwright install` cannot work here. */
export const CHROMIUM = '/usr/bin/chromium';

export const DESKTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh temp profile (its own cookies), one page at `viewport`. */
export async function openBrowser(
  viewport: { width: number; height: number },
  phone = false,
): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (bash scripts/setup.sh does)`,
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'ff-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    viewport,
    ...(phone ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
  });
  // Fail within seconds with the locator named, well inside the test's own timeout.
  context.setDefaultTimeout(10_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where the screenshots go, for a reviewer: test-results/screenshots/. */
export const SHOTS = join(repoRoot, 'test-results', 'screenshots');

/** Saves the whole page as `SHOTS/<name>.png`. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/**
 * A picture of what the page showed when a test failed (`FAILED-<prefix><test name>`); never fails
 * itself, so the test's own error is what is reported.
 */
export async function shotOfFailure(page: Page, testName: string, prefix = ''): Promise<void> {
  await shot(page, `FAILED-${prefix}${testName.slice(0, 40).replace(/\W+/g, '-')}`).catch(() => {});
}

/** Signs in to the dashboard at `url` with an API token and waits for the live connection. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('connection').getByText('live').waitFor();
}
