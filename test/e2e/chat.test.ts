/**
 * Two people chat in the browser: guests sign in (one with an English, one with a Chinese
 * browser), talk both ways, see each other online and typing, reload and find the history, and a
 * message with markup stays text. Screenshots of the room view at desktop and phone size.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  DESKTOP,
  PHONE,
  composer,
  launchBrowser,
  messageText,
  newPage,
  say,
  screenshot,
  signInAsGuest,
  waitForMessage,
} from './browser.js';

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

test('two guests chat both ways, see each other, and find the history after a reload', async () => {
  const alice = await newPage(browser, { locale: 'en-US' });
  const ming = await newPage(browser, { locale: 'zh-CN' });
  try {
    await signInAsGuest(alice.page, server.url, 'Alice');
    // The Chinese browser gets the Chinese interface.
    await ming.page.goto(server.url);
    await ming.page.getByLabel('名字').fill('小明 🐼');
    await ming.page.getByRole('button', { name: '进入聊天室' }).click();
    await ming.page.getByText('在线（2）').waitFor();

    // Each sees the other in the people list.
    await alice.page.locator('.users .user-name', { hasText: '小明 🐼' }).waitFor();
    await ming.page.locator('.users .user-name', { hasText: 'Alice' }).waitFor();

    await say(alice.page, 'Hello from Alice');
    await waitForMessage(ming.page, 'Hello from Alice');

    // Typing shows on the other side.
    await composer(ming.page).pressSequentially('你好');
    await alice.page.getByText('小明 🐼 is typing…').waitFor();
    await composer(ming.page).fill('你好 👋，我是小明');
    await composer(ming.page).press('Enter');
    await waitForMessage(alice.page, '你好 👋，我是小明');
    await waitForMessage(ming.page, '你好 👋，我是小明');
    assert.equal(await composer(ming.page).inputValue(), '', 'the box is empty after sending');

    // Shift+Enter makes a new line; Enter sends both lines as one message.
    await composer(alice.page).pressSequentially('first line');
    await composer(alice.page).press('Shift+Enter');
    await composer(alice.page).pressSequentially('second line');
    await composer(alice.page).press('Enter');
    await waitForMessage(ming.page, 'first line\nsecond line');

    // Screenshots of the room view, then on a phone-sized screen with the people list folded away.
    await screenshot(alice.page, 'room-desktop');
    await screenshot(ming.page, 'room-desktop-zh');
    await alice.page.setViewportSize(PHONE);
    await alice.page.locator('.users').waitFor({ state: 'hidden' });
    await screenshot(alice.page, 'room-phone');
    await alice.page.getByRole('button', { name: /People/ }).click();
    await alice.page.locator('.users .user-name', { hasText: '小明 🐼' }).waitFor();
    await screenshot(alice.page, 'room-phone-people');
    await alice.page.keyboard.press('Escape');
    await alice.page.locator('.users').waitFor({ state: 'hidden' });
    await alice.page.setViewportSize(DESKTOP);

    // A reload shows the history, each message once.
    await ming.page.reload();
    for (const text of ['Hello from Alice', '你好 👋，我是小明', 'first line\nsecond line']) {
      await waitForMessage(ming.page, text);
      assert.equal(await messageText(ming.page, text).count(), 1, `"${text}" is shown once after the reload`);
    }
    assert.deepEqual([...alice.errors, ...ming.errors], []);
  } finally {
    await alice.context.close();
    await ming.context.close();
  }
});

test('markup in a message is shown as text and runs nothing; links are safe', async () => {
  const sender = await newPage(browser);
  const reader = await newPage(browser);
  try {
    await signInAsGuest(sender.page, server.url, 'Mallory');
    await signInAsGuest(reader.page, server.url, 'Reader');
    const attack = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>';
    await say(sender.page, attack);
    await waitForMessage(reader.page, attack);
    await say(sender.page, 'docs at https://example.com/guide?a=1&b=2. thanks');
    await waitForMessage(reader.page, 'docs at https://example.com/guide?a=1&b=2. thanks');

    for (const { page } of [sender, reader]) {
      assert.equal(await page.evaluate(() => (window as { __pwned?: number }).__pwned), undefined);
      assert.equal(await page.locator('.messages img, .messages script').count(), 0, 'no element made from a message');
      const link = page.locator('.messages a', { hasText: 'https://example.com/guide?a=1&b=2' });
      assert.equal(await link.getAttribute('href'), 'https://example.com/guide?a=1&b=2');
      assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
      assert.equal(await link.getAttribute('target'), '_blank');
    }
    assert.deepEqual([...sender.errors, ...reader.errors], []);
  } finally {
    await sender.context.close();
    await reader.context.close();
  }
});
