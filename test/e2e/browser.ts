/**
 * What the end-to-end tests share: Debian's Chromium driven by playwright-core (never a downloaded
 * browser), the built web app (web/dist, built by `npm run build`), and the few steps a user takes
 * on the page (sign in, send, wait for a message).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const screenshotDir = join(repoRoot, 'test-output', 'screenshots');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(join(repoRoot, 'web/dist/index.html'))) {
    throw new Error('web/dist is missing: run `npm run build` before the e2e tests');
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function newPage(
  browser: Browser,
  options: { locale?: string; viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    locale: options.locale ?? 'en-US',
    viewport: options.viewport ?? DESKTOP,
    timezoneId: 'UTC',
    // No sliding panels mid-way in a screenshot.
    reducedMotion: 'reduce',
  });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  // Script errors in the page: the tests assert there are none.
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  return { context, page, errors };
}

/** Signs in with the guest form (English interface) and waits for the lobby. */
export async function signInAsGuest(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await page.locator('#signin-name').fill(name);
  await page.locator('#signin-form button[type="submit"]').click();
  await page.locator('#composer-input').waitFor();
  // The room list and the user's own presence: the page is joined.
  await page.locator('.users .user-item.self').waitFor({ state: 'attached' });
}

export function composer(page: Page): Locator {
  return page.locator('#composer-input');
}

/** Delivered messages (not pending) whose text is exactly `text`. */
export function messageText(page: Page, text: string): Locator {
  return page.locator('.messages li.msg:not(.pending) .text').filter({ hasText: new RegExp(`^${escapeRegExp(text)}$`) });
}

export async function waitForMessage(page: Page, text: string): Promise<void> {
  await messageText(page, text).first().waitFor();
}

/** Types a message and presses Enter, as a user does; waits until it is acknowledged. */
export async function say(page: Page, text: string): Promise<void> {
  await composer(page).fill(text);
  await composer(page).press('Enter');
  await waitForMessage(page, text);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
