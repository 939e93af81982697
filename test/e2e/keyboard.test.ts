/**
 * The page with the keyboard only: the arrow keys move between the log's messages (one of them in
 * the Tab order), Tab goes into the focused message's actions and Escape back to it; a reply, a
 * reaction, an edit and a delete, a message arriving, a moderator's mute, kick and ban each leave
 * focus somewhere sensible (document.activeElement is checked after every step), never on <body>.
 * Screenshots of a focused message with its actions, on a desktop and a phone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createRoom, signIn } from '../../src/client/index.js';
import { PHONE, composer, launchBrowser, newPage, say, screenshot, signInAsGuest, waitForMessage } from './browser.js';

let server: TestServer;
let browser: Browser;
const PASSWORD = 'correct horse battery';

before(async () => {
  server = await startTestServer({ RATE_LIMIT: '0' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** What holds focus, as a user would say it: a message (by its text), or a control (by its name) and the message it is in. */
interface Focus {
  kind: 'body' | 'message' | 'control';
  name: string;
  /** The text of the message the control is in, when it is in one. */
  in?: string;
  id?: string;
  /** On screen: not hidden, with a size. */
  shown: boolean;
}

async function focused(page: Page): Promise<Focus> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { kind: 'body', name: '', shown: false } as const;
    // (No function declared in here: the test's compiler would name it with a helper the page lacks.)
    const message = el.closest('li.msg');
    const text = message?.querySelector('.text')?.textContent?.trim() ?? '';
    const box = el.getBoundingClientRect();
    const shown = box.width > 0 && box.height > 0 && getComputedStyle(el).visibility === 'visible';
    if (message && el === message) return { kind: 'message', name: text, shown } as const;
    const name = (el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
    return { kind: 'control', name, ...(message ? { in: text } : {}), ...(el.id ? { id: el.id } : {}), shown } as const;
  });
}

async function press(page: Page, key: string): Promise<Focus> {
  await page.keyboard.press(key);
  return focused(page);
}

/** Asserts that focus is on the message whose text is `text`, shown. */
async function assertOnMessage(page: Page, text: string): Promise<void> {
  const f = await focused(page);
  assert.deepEqual({ kind: f.kind, name: f.name, shown: f.shown }, { kind: 'message', name: text, shown: true }, JSON.stringify(f));
}

/** Asserts that focus is on the control named `name`, shown, in the message `inMessage` (or in none). */
async function assertOnControl(page: Page, name: string, inMessage?: string): Promise<void> {
  const f = await focused(page);
  assert.deepEqual({ kind: f.kind, name: f.name, in: f.in, shown: f.shown }, { kind: 'control', name, in: inMessage, shown: true }, JSON.stringify(f));
}

/** Presses `key` (Tab by default) until the control named `name` has focus (in the message `inMessage`, or in none), at most 12 times. */
async function moveTo(page: Page, name: string, inMessage?: string, key = 'Tab'): Promise<void> {
  const seen: Focus[] = [];
  for (let i = 0; i < 12; i++) {
    const f = await press(page, key);
    seen.push(f);
    if (f.kind === 'control' && f.name === name && f.in === inMessage) return;
  }
  assert.fail(`${key} never reached "${name}": ${seen.map((f) => `${f.kind} ${f.name}`).join(' | ')}`);
}

function person(page: Page, name: string) {
  return page.locator('.users li.person').filter({ has: page.locator('.user-name', { hasText: new RegExp(`^${name}$`) }) });
}

test('with the keyboard only: the arrow keys move between messages, Tab goes into their actions; a reaction, a reply, an edit and a delete keep the focus', async () => {
  const ann = await newPage(browser);
  const bob = await newPage(browser);
  try {
    await signInAsGuest(ann.page, server.url, 'ann');
    await signInAsGuest(bob.page, server.url, 'bob');
    await say(bob.page, 'first from bob');
    await say(bob.page, 'second from bob');
    await say(ann.page, 'ann makes a typo');
    await say(bob.page, 'third from bob');
    await waitForMessage(ann.page, 'third from bob');
    const page = ann.page;

    // One message is in the Tab order: back from the message box, the newest.
    assert.equal(await page.locator('.messages li.msg[tabindex="0"]').count(), 1);
    await composer(page).focus();
    await page.keyboard.press('Shift+Tab');
    await assertOnMessage(page, 'third from bob');
    await page.keyboard.press('ArrowUp');
    await assertOnMessage(page, 'ann makes a typo');
    await page.keyboard.press('Home');
    await assertOnMessage(page, 'first from bob');
    await page.keyboard.press('ArrowUp');
    await assertOnMessage(page, 'first from bob');
    await page.keyboard.press('End');
    await assertOnMessage(page, 'third from bob');
    await page.keyboard.press('ArrowDown');
    await assertOnMessage(page, 'third from bob');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await assertOnMessage(page, 'second from bob');
    // The roving focus: still one message in the Tab order, the one focused.
    assert.deepEqual(await page.locator('.messages li.msg[tabindex="0"] .text').allTextContents(), ['second from bob']);

    // Tab goes into its action bar, shown; Shift+Tab back to the message.
    await page.keyboard.press('Tab');
    await assertOnControl(page, 'Reply', 'second from bob');
    await screenshot(page, 'keyboard-message-actions');
    await page.keyboard.press('Shift+Tab');
    await assertOnMessage(page, 'second from bob');
    await screenshot(page, 'keyboard-message-focused');

    // React: the picker takes focus, a reaction is added, focus is back on the message.
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowRight');
    await assertOnControl(page, 'React', 'second from bob');
    await page.keyboard.press('Enter');
    await assertOnControl(page, '👍', 'second from bob');
    await page.keyboard.press('Enter');
    await bob.page.locator('.messages li.msg', { hasText: 'second from bob' }).locator('.reaction', { hasText: '👍1' }).waitFor();
    await page.locator('.emoji-picker').waitFor({ state: 'detached' });
    await assertOnMessage(page, 'second from bob');
    // Its reaction is next in the Tab order, then the actions; Escape goes back to the message.
    await page.keyboard.press('Tab');
    assert.match((await focused(page)).name, /👍/);
    await page.keyboard.press('Tab');
    await assertOnControl(page, 'Reply', 'second from bob');
    await page.keyboard.press('Escape');
    await assertOnMessage(page, 'second from bob');

    // Reply: the message box takes focus, with the message answered above it.
    await moveTo(page, 'Reply', 'second from bob');
    await page.keyboard.press('Enter');
    assert.equal((await focused(page)).id, 'composer-input');
    await page.keyboard.type('an answer from ann');
    await page.keyboard.press('Enter');
    await waitForMessage(page, 'an answer from ann');

    // Back in the log at the message last focused; a message arriving meanwhile leaves focus where it is.
    await page.keyboard.press('Shift+Tab');
    await assertOnMessage(page, 'second from bob');
    await say(bob.page, 'fourth from bob');
    await waitForMessage(page, 'fourth from bob');
    await assertOnMessage(page, 'second from bob');

    // Edit one's own message: the editor takes focus, and once saved the message has it again.
    await page.keyboard.press('ArrowDown');
    await assertOnMessage(page, 'ann makes a typo');
    await moveTo(page, 'Edit', 'ann makes a typo');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('edit-input')), true, 'the editor has focus');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('ann fixed it');
    await page.keyboard.press('Enter');
    await page.locator('.messages li.msg .edited').waitFor();
    await assertOnMessage(page, 'ann fixed it');

    // Delete it (asked first): the message stays as "message deleted", and keeps the focus.
    page.once('dialog', (dialog) => void dialog.accept());
    await moveTo(page, 'Delete', 'ann fixed it');
    await page.keyboard.press('Enter');
    await page.locator('.messages li.msg.deleted').waitFor();
    await assertOnMessage(page, 'message deleted');
    await page.keyboard.press('ArrowDown');
    await assertOnMessage(page, 'third from bob');

    // On a phone: the same keys, the actions within the screen.
    await page.setViewportSize(PHONE);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await assertOnMessage(page, 'second from bob');
    const bar = await page.locator('.messages li.msg:focus .msg-actions').boundingBox();
    assert.ok(bar && bar.x >= 0 && bar.x + bar.width <= PHONE.width, `the actions fit the screen: ${JSON.stringify(bar)}`);
    await screenshot(page, 'keyboard-message-focused-phone');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await assertOnControl(page, 'Reply', 'second from bob');
    await screenshot(page, 'keyboard-message-actions-phone');
    assert.deepEqual([...ann.errors, ...bob.errors], []);
  } finally {
    await ann.context.close();
    await bob.context.close();
  }
});

test('with the keyboard only: ↑ from the first message loaded loads the older ones, up to the first of the room', async () => {
  const bot = await signIn.guest(server.url, 'newsbot');
  await createRoom(server.url, 'history', { token: bot.token });
  for (let i = 1; i <= 60; i++) {
    const res = await fetch(`${server.url}/api/rooms/history/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bot.token}` },
      body: JSON.stringify({ data: `news ${i}` }),
    });
    assert.equal(res.status, 201);
  }
  const { context, page, errors } = await newPage(browser);
  try {
    await signInAsGuest(page, server.url, 'rea');
    await page.getByRole('button', { name: 'Join history', exact: true }).click();
    await waitForMessage(page, 'news 60');
    await composer(page).focus();
    await page.keyboard.press('Shift+Tab');
    await assertOnMessage(page, 'news 60');
    await page.keyboard.press('Home');
    const seen: string[] = [];
    for (let i = 0; i < 60 && seen.at(-1) !== 'news 1'; i++) {
      await page.keyboard.press('ArrowUp');
      // A page of history is on its way: the next key waits for it, as a reader would.
      await page.locator('.messages .older:not(p)').or(page.locator('.messages .beginning')).waitFor();
      const f = await focused(page);
      assert.equal(f.kind, 'message', JSON.stringify(f));
      seen.push(f.name);
    }
    assert.equal(seen.at(-1), 'news 1', seen.join(', '));
    assert.equal(await page.locator('.messages .beginning').count(), 1, 'the whole history is loaded');
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('with the keyboard only, a moderator: a duration step takes focus, and after a mute, a kick, a mute from a message and a ban focus is on ⋯, the next person, the message\'s 🛡 and the list', async () => {
  const owner = await signIn.register(server.url, 'olga', PASSWORD);
  await createRoom(server.url, 'help', { token: owner.token });
  const olga = await newPage(browser);
  const sam = await newPage(browser);
  const tim = await newPage(browser);
  try {
    await olga.page.goto(server.url);
    await olga.page.locator('#tab-login').click();
    await olga.page.locator('#signin-name').fill('olga');
    await olga.page.locator('#signin-password').fill(PASSWORD);
    await olga.page.locator('#signin-form button[type="submit"]').click();
    await composer(olga.page).waitFor();
    await signInAsGuest(sam.page, server.url, 'sam');
    await signInAsGuest(tim.page, server.url, 'tim');
    for (const { page } of [olga, sam, tim]) {
      await page.getByRole('button', { name: 'Join help', exact: true }).click();
      await page.locator('.room-title', { hasText: 'help' }).waitFor();
    }
    await say(tim.page, 'hello from tim');
    await say(sam.page, 'spam spam spam');
    const page = olga.page;
    await waitForMessage(page, 'spam spam spam');
    await person(page, 'tim').locator('.person-menu').waitFor();

    // Mute from the people list: the durations take focus (Back returns to Mute); then focus is back on ⋯.
    await composer(page).focus();
    await moveTo(page, 'Moderate sam');
    await page.keyboard.press('Enter');
    const menu = page.getByRole('dialog', { name: 'Moderate sam' });
    await menu.waitFor();
    await moveTo(page, 'Mute');
    await page.keyboard.press('Enter');
    await assertOnControl(page, '10 minutes');
    await moveTo(page, 'Back');
    await page.keyboard.press('Enter');
    await assertOnControl(page, 'Mute');
    await page.keyboard.press('Enter');
    await assertOnControl(page, '10 minutes');
    await page.keyboard.press('Enter');
    await menu.waitFor({ state: 'detached' });
    await person(page, 'sam').locator('.muted-mark').waitFor();
    await assertOnControl(page, 'Moderate sam');

    // Kick: sam's row goes, and focus is on the next person's ⋯.
    await page.keyboard.press('Enter');
    await menu.waitFor();
    await moveTo(page, 'Kick');
    await page.keyboard.press('Enter');
    await sam.page.locator('.room-closed', { hasText: 'olga removed you from help' }).waitFor();
    await menu.waitFor({ state: 'detached' });
    await person(page, 'sam').waitFor({ state: 'detached' });
    await assertOnControl(page, 'Moderate tim');

    // Mute from a message's 🛡: the arrow keys to tim's message, Tab into its actions; focus is back on 🛡.
    await composer(page).focus();
    await page.keyboard.press('Shift+Tab');
    await assertOnMessage(page, 'spam spam spam');
    await page.keyboard.press('ArrowUp');
    await assertOnMessage(page, 'hello from tim');
    await page.keyboard.press('Tab');
    await page.keyboard.press('End');
    await assertOnControl(page, 'Moderate tim', 'hello from tim');
    await page.keyboard.press('Enter');
    const timMenu = page.getByRole('dialog', { name: 'Moderate tim' });
    await timMenu.waitFor();
    await moveTo(page, 'Mute');
    await page.keyboard.press('Enter');
    await assertOnControl(page, '10 minutes');
    await page.keyboard.press('Enter');
    await timMenu.waitFor({ state: 'detached' });
    await tim.page.locator('#muted-note').waitFor();
    await assertOnControl(page, 'Moderate tim', 'hello from tim');

    // Ban from the people list: tim's row goes; nobody else to act on, so focus is on the list's heading.
    await moveTo(page, 'Moderate tim');
    await page.keyboard.press('Enter');
    await timMenu.waitFor();
    await moveTo(page, 'Ban');
    await page.keyboard.press('Enter');
    await assertOnControl(page, '10 minutes');
    await page.keyboard.press('Enter');
    await tim.page.locator('.room-closed').waitFor();
    await timMenu.waitFor({ state: 'detached' });
    await person(page, 'tim').waitFor({ state: 'detached' });
    const f = await focused(page);
    assert.deepEqual({ id: f.id, shown: f.shown }, { id: 'people-title', shown: true }, JSON.stringify(f));
    assert.deepEqual([...olga.errors, ...sam.errors, ...tim.errors], []);
  } finally {
    for (const p of [olga, sam, tim]) await p.context.close();
  }
});
