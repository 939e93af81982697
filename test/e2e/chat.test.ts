/**
 * Two people chat in the browser: guests sign in (one with an English, one with a Chinese
 * browser), talk both ways, see each other online and typing, reload and find the history, and a
 * message with markup stays text. Screenshots of the room view at desktop and phone size.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createRoom, ParleyClient, signIn } from '../../src/client/index.js';
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

test('a first visit logs no error in the console and no failed request', async () => {
  const { context, page, errors } = await newPage(browser);
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
  });
  try {
    await page.goto(server.url);
    await page.locator('#signin-form').waitFor();
    // Whatever the page asks at start has been answered.
    await page.waitForLoadState('networkidle');
    assert.deepEqual(problems, []);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('two guests chat both ways, see each other, and find the history after a reload', async () => {
  const alice = await newPage(browser, { locale: 'en-US' });
  const ming = await newPage(browser, { locale: 'zh-CN' });
  try {
    await signInAsGuest(alice.page, server.url, 'Alice');
    // The Chinese browser gets the Chinese interface.
    // …and signs in with the keyboard alone: the name field has the focus, Enter submits.
    await ming.page.goto(server.url);
    await ming.page.getByRole('button', { name: '进入聊天室' }).waitFor();
    await ming.page.getByLabel('名字').waitFor();
    // Keys typed the moment the form shows must land in the field, not be lost.
    assert.equal(await ming.page.evaluate(() => document.activeElement?.id), 'signin-name', 'the name field has the focus');
    await ming.page.keyboard.type('小明 🐼');
    await ming.page.keyboard.press('Enter');
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
    // The typing line goes with the message that ends it, in the same update, not 5 s later.
    assert.equal(await alice.page.locator('.composer .typing').innerText(), '', 'no typing line once the message is there');
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
    await alice.page.getByRole('button', { name: 'Rooms' }).click();
    await alice.page.locator('.rooms .room-item', { hasText: 'lobby' }).waitFor();
    await screenshot(alice.page, 'room-phone-rooms');
    await alice.page.keyboard.press('Escape');
    await alice.page.locator('.rooms').waitFor({ state: 'hidden' });
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

test('a refused message says why right under it, and Edit puts it back in the box to be shortened', async () => {
  const { context, page, errors } = await newPage(browser);
  try {
    await signInAsGuest(page, server.url, 'Verbose');
    const long = 'word '.repeat(801).trim(); // 4,004 characters; the server takes 4,000
    await composer(page).fill(long);
    await composer(page).press('Enter');
    const refused = page.locator('.messages li.pending.failed');
    await refused.waitFor();
    assert.match(await refused.locator('[role="alert"]').innerText(), /^Not sent: message is longer than 4000 characters$/);
    // The reason and the buttons are in view under the long text, without scrolling.
    const list = await page.locator('.messages').boundingBox();
    for (const name of ['Edit', 'Discard']) {
      const button = await refused.getByRole('button', { name }).boundingBox();
      assert.ok(list && button && button.y >= list.y && button.y + button.height <= list.y + list.height, `${name} is in view`);
    }
    assert.equal(await refused.getByRole('button', { name: 'Retry' }).count(), 0, 'the same text would be refused again');
    await screenshot(page, 'chat-refused-too-long');

    await refused.getByRole('button', { name: 'Edit' }).click();
    assert.equal(await refused.count(), 0);
    assert.equal(await composer(page).inputValue(), long);
    assert.ok(await composer(page).evaluate((el) => el === document.activeElement), 'the cursor is in the box');
    await say(page, long.slice(0, 3_990));
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test("near the server's MAX_TEXT the composer says how many characters are left, counting an emoji as one", async () => {
  const small = await startTestServer({ MAX_TEXT: '100' });
  const { context, page, errors } = await newPage(browser);
  try {
    await signInAsGuest(page, small.url, 'Brief');
    const count = page.locator('#composer-count');
    await composer(page).fill('a'.repeat(80));
    assert.equal(await count.count(), 0, 'far from the limit, no count');
    await composer(page).fill('😀'.repeat(95));
    await count.getByText('Characters left: 5').waitFor();
    await composer(page).fill('a'.repeat(104));
    await count.getByText('Characters over the limit: 4').waitFor();
    assert.equal(await composer(page).getAttribute('aria-describedby'), 'composer-hint composer-count');
    await screenshot(page, 'composer-over-limit');
    // A phone has no room for the hint under the box, but the count stays.
    await page.setViewportSize(PHONE);
    await count.getByText('Characters over the limit: 4').waitFor();
    await screenshot(page, 'composer-over-limit-phone');
    await page.setViewportSize(DESKTOP);
    // The server agrees: the same text is refused for its length.
    await composer(page).press('Enter');
    await page.locator('.messages li.pending.failed', { hasText: 'longer than 100 characters' }).waitFor();
    assert.equal(await count.count(), 0, 'the box is empty again');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await small.close();
  }
});

test("a Chinese page gives the server's refusals in Chinese", async () => {
  await signIn.register(server.url, '阿强', 'correct horse');
  const { context, page, errors } = await newPage(browser, { locale: 'zh-CN' });
  try {
    await page.goto(server.url);
    await page.getByRole('tab', { name: '注册' }).click();
    await page.locator('#signin-name').fill('阿强');
    await page.locator('#signin-password').fill('another password');
    await page.locator('#signin-form button[type="submit"]').click();
    await page.locator('#signin-error', { hasText: '这个名字已被占用' }).waitFor();
    assert.equal(await page.locator('#signin-error').innerText(), '登录失败：这个名字已被占用。');

    await page.getByRole('tab', { name: '访客' }).click();
    await page.locator('#signin-name').fill('小红');
    await page.locator('#signin-form button[type="submit"]').click();
    await composer(page).fill('长'.repeat(4001));
    await composer(page).press('Enter');
    const refused = page.locator('.messages li.pending.failed [role="alert"]');
    await refused.waitFor();
    assert.equal(await refused.innerText(), '未发送：太长了：上限是 4000 个字符。');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
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

test('scrolling to the top of a room loads its older history, each message once and in order', async () => {
  // A backend fills a public room over HTTP before the reader arrives.
  const { token } = await signIn.guest(server.url, 'Archivist');
  await createRoom(server.url, 'archive', { token });
  const texts = Array.from({ length: 120 }, (_, i) => `archive message ${i + 1}`);
  for (const text of texts) {
    const res = await fetch(`${server.url}/api/rooms/archive/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ data: text }),
    });
    assert.equal(res.status, 201);
  }

  const reader = await newPage(browser);
  try {
    await signInAsGuest(reader.page, server.url, 'Historian');
    await reader.page.getByRole('button', { name: 'Join archive' }).click();
    await waitForMessage(reader.page, 'archive message 120');
    assert.equal(await messageText(reader.page, 'archive message 1').count(), 0, 'only the latest page is loaded at first');

    // Scroll up until the first message is there (each scroll to the top asks for an older page).
    await reader.page.waitForFunction(
      () => {
        const list = document.querySelector('.messages');
        if (!list) return false;
        list.scrollTop = 0;
        return [...list.querySelectorAll('.text')].some((el) => el.textContent === 'archive message 1');
      },
      undefined,
      { polling: 250, timeout: 20_000 },
    );
    await reader.page.getByText('This is the beginning of archive.').waitFor();
    const shown = await reader.page.locator('.messages li.msg .text').allTextContents();
    assert.deepEqual(shown, texts);
    assert.deepEqual(reader.errors, []);
  } finally {
    await reader.context.close();
  }
});

test('on a phone, a message in another room and a new DM show as a count on the ☰ button', async () => {
  const { token } = await signIn.guest(server.url, 'Gardener');
  await createRoom(server.url, 'garden', { token });
  const ana = await newPage(browser, { viewport: PHONE });
  const ben = await newPage(browser);
  try {
    await signInAsGuest(ana.page, server.url, 'Ana');
    await signInAsGuest(ben.page, server.url, 'Ben');
    // Ana joins garden and reads there; lobby and any DM are behind the ☰ button.
    await ana.page.getByRole('button', { name: 'Rooms' }).click();
    await ana.page.getByRole('button', { name: 'Join garden' }).click();
    await ana.page.locator('.room-title', { hasText: 'garden' }).waitFor();
    const menu = ana.page.locator('#toggle-rooms');
    assert.equal(await menu.locator('.unread-badge').count(), 0, 'nothing unread yet');

    await say(ben.page, 'anyone in the lobby?');
    await menu.locator('.unread-badge', { hasText: /^1$/ }).waitFor();
    await ben.page.locator('.users button.user-item', { hasText: 'Ana' }).click();
    await ben.page.locator('.room-title', { hasText: 'Ana' }).waitFor();
    await say(ben.page, 'a word in private');
    await menu.locator('.unread-badge', { hasText: /^2$/ }).waitFor();
    assert.equal(await ana.page.getByRole('button', { name: 'Rooms 2 unread' }).count(), 1, 'the count is in the button\'s name');
    await screenshot(ana.page, 'unread-phone-menu-badge');

    // Reading the DM leaves the lobby's message counted.
    await menu.click();
    await ana.page.locator('.rooms .room-item', { hasText: 'Ben' }).click();
    await waitForMessage(ana.page, 'a word in private');
    await menu.locator('.unread-badge', { hasText: /^1$/ }).waitFor();
    assert.deepEqual([...ana.errors, ...ben.errors], []);
  } finally {
    await ana.context.close();
    await ben.context.close();
  }
});

test('a guest and an account of the same name are told apart in messages and in the people list', async () => {
  const { context, page, errors } = await newPage(browser);
  const clients: ParleyClient[] = [];
  try {
    await signInAsGuest(page, server.url, 'Watcher');
    // The guest took the name first; then somebody registered it. Both come to the lobby and write.
    const sams = [await signIn.guest(server.url, 'Sam'), await signIn.register(server.url, 'Sam', 'sams password')];
    for (const [i, sam] of sams.entries()) {
      const client = new ParleyClient({ url: server.url, token: sam.token });
      clients.push(client);
      client.connect();
      client.join('lobby');
      await client.send('lobby', i === 0 ? 'from the guest Sam' : 'from the account Sam');
    }
    await waitForMessage(page, 'from the account Sam');
    const badgeOf = (text: string) => page.locator('.messages li.msg').filter({ has: page.locator('.text', { hasText: text }) }).locator('.meta .badge');
    assert.equal(await badgeOf('from the guest Sam').textContent(), 'guest');
    assert.equal(await badgeOf('from the account Sam').count(), 0, 'an account is not marked');
    const people = page.locator('.users .user-item', { hasText: 'Sam' });
    await page.waitForFunction(() => document.querySelectorAll('.users .user-item').length >= 3);
    assert.equal(await people.count(), 2);
    assert.deepEqual(await people.evaluateAll((items) => items.map((i) => i.querySelector('.badge')?.textContent ?? '')).then((b) => b.sort()), ['', 'guest']);
    await screenshot(page, 'guest-and-account-same-name');
    assert.deepEqual(errors, []);
  } finally {
    for (const c of clients) c.close();
    await context.close();
  }
});

test('register, log out, a wrong password is refused next to the form, the right one signs in', async () => {
  const { context, page, errors } = await newPage(browser);
  try {
    await page.goto(server.url);
    await page.getByRole('tab', { name: 'Register' }).click();
    await page.getByLabel('Name').fill('Dora');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#composer-input').waitFor();
    await page.locator('.me', { hasText: 'Dora' }).waitFor();
    assert.equal(await page.locator('.me .badge').count(), 0, 'a registered user is not marked as a guest');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('tab', { name: 'Log in' }).click();
    await page.getByLabel('Name').fill('Dora');
    await page.getByLabel('Password').fill('wrong password!');
    await page.getByRole('button', { name: 'Log in' }).click();
    const error = page.locator('#signin-error');
    await error.getByText('Sign-in failed').waitFor();
    await page.setViewportSize(PHONE);
    await screenshot(page, 'signin-phone-error');
    await page.setViewportSize(DESKTOP);
    assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');

    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('.me', { hasText: 'Dora' }).waitFor();
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('on a phone a long name gives way to the time of its message, and rooms are listed in number order', async () => {
  const { context, page, errors } = await newPage(browser, { viewport: PHONE });
  try {
    // 32 characters, the longest name there is, with no space to break at.
    const name = 'Wolfeschlegelsteinhausenbergerdo';
    const { token } = await signIn.guest(server.url, 'Rooms Maker');
    for (const room of ['shelf-10', 'shelf-2', 'shelf-1']) await createRoom(server.url, room, { token });

    await signInAsGuest(page, server.url, name);
    await say(page, 'a phone, a long name');
    const meta = page.locator('.messages li.msg', { hasText: 'a phone, a long name' }).locator('.meta');
    const time = await meta.locator('time').evaluate((el) => {
      const box = el.getBoundingClientRect();
      return { right: box.right, clipped: el.scrollWidth > el.clientWidth, lines: Math.round(box.height / parseFloat(getComputedStyle(el).lineHeight)) };
    });
    assert.ok(time.right <= PHONE.width, `the time ends inside the screen (at ${time.right} of ${PHONE.width} px)`);
    assert.equal(time.clipped, false, 'the time is not cut off');
    assert.equal(time.lines, 1, 'the time stays on one line');
    assert.equal(await meta.locator('.sender').getAttribute('title'), name, 'the whole name is in the title of the cut one');
    await screenshot(page, 'long-name-phone');

    await page.setViewportSize(DESKTOP);
    const shelves = (await page.locator('.rooms li', { hasText: 'shelf-' }).allInnerTexts()).map((t) => t.match(/shelf-\d+/)![0]);
    assert.deepEqual(shelves, ['shelf-1', 'shelf-2', 'shelf-10']);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});
