/**
 * The page under its own Content-Security-Policy: two guests sign in, chat both ways and reload,
 * and the browser reports no violation of the policy and no console error. A script slipped into
 * the page is blocked, which shows the policy is in force.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { launchBrowser, messageText, newPage, say, screenshot, signInAsGuest, waitForMessage } from './browser.js';

let server: TestServer;
let browser: Browser;

before(async () => {
  server = await startTestServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Collects the page's CSP violations (as the page's securitypolicyviolation events) and console errors. */
async function watchPolicy(page: Page): Promise<{ violations: string[]; consoleErrors: string[] }> {
  const violations: string[] = [];
  const consoleErrors: string[] = [];
  await page.exposeFunction('reportViolation', (v: string) => violations.push(v));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      void (window as unknown as { reportViolation(v: string): Promise<void> }).reportViolation(`${e.effectiveDirective} ${e.blockedURI}`);
    });
  });
  page.on('console', (m) => {
    // The page asks /api/me before anyone has signed in; the browser logs the 401 it gets.
    if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
  });
  return { violations, consoleErrors };
}

test('the page works under its Content-Security-Policy, and the policy blocks an injected script', async () => {
  const alice = await newPage(browser);
  const bob = await newPage(browser);
  try {
    const watched = [await watchPolicy(alice.page), await watchPolicy(bob.page)];
    const response = await alice.page.goto(server.url);
    const headers = response!.headers();
    assert.match(headers['content-security-policy'] ?? '', /script-src 'self'/);
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.equal(headers['referrer-policy'], 'no-referrer');
    assert.equal(headers['x-content-type-options'], 'nosniff');

    await signInAsGuest(alice.page, server.url, 'Alice');
    await signInAsGuest(bob.page, server.url, 'Bob');
    await bob.page.locator('.users .user-name', { hasText: 'Alice' }).waitFor();
    await say(alice.page, 'hello under a strict policy');
    await waitForMessage(bob.page, 'hello under a strict policy');
    await say(bob.page, '你好 👋');
    await waitForMessage(alice.page, '你好 👋');
    await alice.page.reload();
    await waitForMessage(alice.page, 'hello under a strict policy');
    assert.equal(await messageText(alice.page, '你好 👋').count(), 1);
    await screenshot(alice.page, 'room-under-csp');

    for (const { violations, consoleErrors } of watched) {
      assert.deepEqual(violations, [], 'no CSP violation');
      assert.deepEqual(consoleErrors, [], 'no console error');
    }
    assert.deepEqual([...alice.errors, ...bob.errors], []);

    // An inline script, as an XSS slip would add one, does not run.
    await alice.page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__injected = 1';
      document.body.append(script);
    });
    for (let i = 0; watched[0]!.violations.length === 0; i++) {
      assert.ok(i < 100, 'the browser reports the blocked script');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(watched[0]!.violations, ['script-src-elem inline']);
    assert.equal(await alice.page.evaluate(() => (window as { __injected?: number }).__injected), undefined);
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});
