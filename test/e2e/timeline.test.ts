/**
 * The timeline in the browser, two people in two browser contexts: edit and delete one's own
 * messages, reply (a click on the quote brings the original into view, loading older history),
 * react (the other page sees the count and who, and toggles), a mention (the other page's "@"
 * badge and highlight), read markers (the "new messages" divider after a reload, counts agreeing
 * across tabs) and search from the page. Screenshots at desktop and phone size.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ParleyClient, createRoom, signIn } from '../../src/client/index.js';
import { DESKTOP, PHONE, composer, launchBrowser, messageText, newPage, say, screenshot, signInAsGuest, waitForMessage } from './browser.js';

let server: TestServer;
let browser: Browser;

before(async () => {
  // The bot below writes a long history quickly.
  server = await startTestServer({ RATE_LIMIT: '0' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** The message (its whole item: text, quote, reactions, actions) whose text is exactly `text`. */
function message(page: Page, text: string): Locator {
  return page.locator('.messages li.msg:not(.pending)').filter({ has: page.locator('p.text', { hasText: new RegExp(`^${escapeRegExp(text)}$`) }) });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs one of a message's actions, as a user does: point at the message, click the action. */
async function act(page: Page, text: string, action: string): Promise<void> {
  const item = message(page, text);
  await item.hover();
  await item.getByRole('button', { name: action, exact: true }).click();
}

async function openRoomNamed(page: Page, name: string): Promise<void> {
  await page.locator('.rooms .room-item', { hasText: name }).click();
  await page.locator('.room-title', { hasText: name }).waitFor();
}

/** A bot connected with the SDK, as another program would be. */
async function bot(name: string): Promise<ParleyClient> {
  const { token } = await signIn.guest(server.url, name);
  const client = new ParleyClient({ url: server.url, token });
  client.connect();
  return client;
}

/** Whether the element is inside the visible part of the message list. */
async function inView(page: Page, element: Locator): Promise<boolean> {
  const list = await page.locator('.messages').boundingBox();
  const box = await element.boundingBox();
  return !!list && !!box && box.y >= list.y && box.y + box.height <= list.y + list.height;
}

test('edit and delete: the author changes and takes back a message, the other page follows', async () => {
  const alice = await newPage(browser);
  const bob = await newPage(browser);
  try {
    await signInAsGuest(alice.page, server.url, 'Alice');
    await signInAsGuest(bob.page, server.url, 'Bob');
    await say(alice.page, 'helo wrld');
    await waitForMessage(bob.page, 'helo wrld');
    // Bob may not edit or delete Alice's message: his page does not offer it.
    await message(bob.page, 'helo wrld').hover();
    assert.equal(await message(bob.page, 'helo wrld').getByRole('button', { name: 'Edit', exact: true }).count(), 0);
    assert.equal(await message(bob.page, 'helo wrld').getByRole('button', { name: 'Delete', exact: true }).count(), 0);

    // Escape leaves the message as it was.
    await act(alice.page, 'helo wrld', 'Edit');
    const editor = alice.page.getByLabel('Edit your message');
    await editor.fill('something else');
    await editor.press('Escape');
    await editor.waitFor({ state: 'detached' });
    await waitForMessage(alice.page, 'helo wrld');

    // Enter saves: both pages show the new text, marked edited.
    await act(alice.page, 'helo wrld', 'Edit');
    await editor.fill('hello world');
    await editor.press('Enter');
    for (const page of [alice.page, bob.page]) {
      await waitForMessage(page, 'hello world');
      await message(page, 'hello world').locator('.edited', { hasText: '(edited)' }).waitFor();
      assert.equal(await messageText(page, 'helo wrld').count(), 0);
    }

    // Delete asks first; then the text is gone from both pages, "message deleted" in its place.
    await say(alice.page, 'my password is hunter2');
    await waitForMessage(bob.page, 'my password is hunter2');
    alice.page.once('dialog', (dialog) => void dialog.accept());
    await act(alice.page, 'my password is hunter2', 'Delete');
    for (const page of [alice.page, bob.page]) {
      await page.locator('.messages li.msg.deleted .deleted-text', { hasText: 'message deleted' }).waitFor();
      assert.equal(await page.getByText('hunter2').count(), 0, 'no trace of the deleted text');
    }
    await screenshot(bob.page, 'timeline-edited-deleted');

    // After a reload the history pages say the same.
    await bob.page.reload();
    await waitForMessage(bob.page, 'hello world');
    await message(bob.page, 'hello world').locator('.edited').waitFor();
    await bob.page.locator('.messages li.msg.deleted').waitFor();
    assert.equal(await bob.page.getByText('hunter2').count(), 0);
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  } finally {
    await alice.context.close();
    await bob.context.close();
  }
});

test('reply: the quote shows what is answered, and a click on it loads older history and brings the original into view', async () => {
  const rob = await bot('Robot');
  const carol = await newPage(browser);
  const dan = await newPage(browser);
  try {
    const first = await rob.send('lobby', 'the very first words');
    for (let i = 1; i <= 120; i++) await rob.send('lobby', `filler ${i}`);
    await rob.send('lobby', 'answering the first', { reply: first.id });

    await signInAsGuest(carol.page, server.url, 'Carol');
    await waitForMessage(carol.page, 'answering the first');
    assert.equal(await messageText(carol.page, 'the very first words').count(), 0, 'the original is not loaded yet');
    const quote = message(carol.page, 'answering the first').locator('.reply-quote');
    await quote.click();
    const original = message(carol.page, 'the very first words');
    await original.waitFor();
    assert.ok(await inView(carol.page, original), 'the original is scrolled into view');
    assert.match((await original.getAttribute('class')) ?? '', /\bflash\b/, 'and highlighted');

    // Carol answers Dan from the page: the composer says what she answers, and Esc would cancel it.
    await signInAsGuest(dan.page, server.url, 'Dan');
    await say(dan.page, 'who wants tea?');
    await waitForMessage(carol.page, 'who wants tea?');
    await act(carol.page, 'who wants tea?', 'Reply');
    await carol.page.locator('.replying', { hasText: 'Replying to Dan' }).waitFor();
    await composer(carol.page).press('Escape');
    await carol.page.locator('.replying').waitFor({ state: 'detached' });
    await act(carol.page, 'who wants tea?', 'Reply');
    await composer(carol.page).fill('me, please');
    await composer(carol.page).press('Enter');
    await carol.page.locator('.replying').waitFor({ state: 'detached' });
    for (const page of [carol.page, dan.page]) {
      const reply = message(page, 'me, please').locator('.reply-quote');
      await reply.locator('.quote-author', { hasText: 'Dan' }).waitFor();
      await reply.locator('.quote-text', { hasText: 'who wants tea?' }).waitFor();
    }
    await screenshot(dan.page, 'timeline-reply');
    assert.deepEqual([...carol.errors, ...dan.errors], []);
  } finally {
    rob.close();
    await carol.context.close();
    await dan.context.close();
  }
});

test('reactions: picked from the picker or typed, counted with who reacted on the other page, toggled by a click', async () => {
  const erin = await newPage(browser);
  const finn = await newPage(browser);
  try {
    await signInAsGuest(erin.page, server.url, 'Erin');
    await signInAsGuest(finn.page, server.url, 'Finn');
    await say(finn.page, 'lunch at noon?');
    await waitForMessage(erin.page, 'lunch at noon?');

    await act(erin.page, 'lunch at noon?', 'React');
    await erin.page.getByRole('dialog', { name: 'Add a reaction' }).getByRole('button', { name: '👍' }).click();
    const thumbs = (page: Page) => message(page, 'lunch at noon?').locator('.reaction', { hasText: '👍' });
    await thumbs(finn.page).locator('.reaction-count', { hasText: /^1$/ }).waitFor();
    assert.equal(await thumbs(finn.page).getAttribute('title'), 'Erin reacted with 👍');
    assert.equal(await thumbs(finn.page).getAttribute('aria-pressed'), 'false');
    assert.equal(await thumbs(erin.page).getAttribute('aria-pressed'), 'true');

    // Finn adds his with a click on the count; Erin sees two, and both names.
    await thumbs(finn.page).click();
    await thumbs(erin.page).locator('.reaction-count', { hasText: /^2$/ }).waitFor();
    assert.equal(await thumbs(erin.page).getAttribute('title'), 'you, Finn reacted with 👍');
    assert.equal(await thumbs(finn.page).getAttribute('aria-pressed'), 'true');

    // Any single emoji can be typed; something else is refused on the spot.
    await act(erin.page, 'lunch at noon?', 'React');
    const other = erin.page.getByLabel('Any emoji');
    await other.fill('yes!');
    await other.press('Enter');
    await erin.page.getByRole('alert').filter({ hasText: 'Type a single emoji' }).waitFor();
    await other.fill('🦄');
    await other.press('Enter');
    await message(finn.page, 'lunch at noon?').locator('.reaction', { hasText: '🦄' }).waitFor();
    await screenshot(finn.page, 'timeline-reactions');

    // Erin takes hers back: one left on Finn's page.
    await thumbs(erin.page).click();
    await thumbs(finn.page).locator('.reaction-count', { hasText: /^1$/ }).waitFor();
    assert.equal(await thumbs(finn.page).getAttribute('title'), 'you reacted with 👍');
    assert.deepEqual([...erin.errors, ...finn.errors], []);
  } finally {
    await erin.context.close();
    await finn.context.close();
  }
});

test('mentions and read markers: an "@" badge and a highlight, the divider after a reload, counts that agree across tabs', async () => {
  const { token } = await signIn.guest(server.url, 'Planner');
  await createRoom(server.url, 'orchard', { token });
  const gina = await newPage(browser);
  const hugo = await newPage(browser);
  try {
    await signInAsGuest(gina.page, server.url, 'Gina');
    await signInAsGuest(hugo.page, server.url, 'Hugo');
    await say(gina.page, 'before the break');
    await waitForMessage(hugo.page, 'before the break');
    // Hugo goes to another room; what comes to the lobby is unread, and a mention is counted apart.
    await hugo.page.getByRole('button', { name: 'Join orchard' }).click();
    await hugo.page.locator('.room-title', { hasText: 'orchard' }).waitFor();
    await say(gina.page, 'first after the break');
    await say(gina.page, '@Hugo can you look at this?');
    const lobby = hugo.page.locator('.rooms .room-item', { hasText: 'lobby' });
    await lobby.locator('.unread-badge', { hasText: /^2$/ }).waitFor();
    await lobby.locator('.mention-badge', { hasText: '@1' }).waitFor();
    await screenshot(hugo.page, 'timeline-mention-badge');

    // A reload keeps the counts (the markers are the server's), and opening the lobby shows the
    // divider before the first unread message.
    await hugo.page.reload();
    await hugo.page.locator('.room-title', { hasText: 'lobby' }).waitFor();
    await waitForMessage(hugo.page, 'first after the break');
    const divider = hugo.page.locator('.messages .new-divider', { hasText: 'New messages' });
    await divider.waitFor();
    const next = hugo.page.locator('.messages .new-divider + li');
    assert.equal(await next.locator('.text').innerText(), 'first after the break');
    // The message naming him is highlighted, his name set apart.
    const named = message(hugo.page, '@Hugo can you look at this?');
    assert.match((await named.getAttribute('class')) ?? '', /\bmentioned\b/);
    assert.equal(await named.locator('.mention.self').innerText(), '@Hugo');
    await screenshot(hugo.page, 'timeline-divider-mention');
    assert.equal(await lobby.locator('.unread-badge, .mention-badge').count(), 0, 'read now');

    // A second tab of Hugo's sits in orchard; what he reads in the first tab is read in the second.
    const tab2 = await hugo.context.newPage();
    await tab2.goto(server.url);
    await tab2.locator('.users .user-item.self').waitFor({ state: 'attached' });
    await openRoomNamed(hugo.page, 'orchard');
    await openRoomNamed(tab2, 'orchard');
    await say(gina.page, 'anyone still here?');
    const lobby2 = tab2.locator('.rooms .room-item', { hasText: 'lobby' });
    await lobby2.locator('.unread-badge', { hasText: /^1$/ }).waitFor();
    await openRoomNamed(hugo.page, 'lobby');
    await waitForMessage(hugo.page, 'anyone still here?');
    await lobby2.locator('.unread-badge').waitFor({ state: 'detached' });
    assert.deepEqual([...gina.errors, ...hugo.errors], []);
  } finally {
    await gina.context.close();
    await hugo.context.close();
  }
});

test('search: results newest first with room, author and the words marked, more on demand, and a result opens at its message', async () => {
  const rob = await bot('Searchbot');
  const { token } = await signIn.guest(server.url, 'Keeper');
  await createRoom(server.url, 'library', { token });
  const ivy = await newPage(browser);
  try {
    await rob.send('library', 'the quantum cat is both here and there');
    for (let i = 1; i <= 25; i++) await rob.send('lobby', `zebra crossing number ${i}`);
    await signInAsGuest(ivy.page, server.url, 'Ivy');

    await ivy.page.getByRole('button', { name: 'Search' }).click();
    const box = ivy.page.getByRole('searchbox', { name: 'Search messages' });
    await box.fill('Quantum');
    await ivy.page.locator('.search-scope').selectOption('all');
    await box.press('Enter');
    const result = ivy.page.locator('.search-result').first();
    await result.waitFor();
    assert.equal(await result.locator('.result-room').innerText(), '#library');
    assert.equal(await result.locator('.result-author').innerText(), 'Searchbot');
    assert.equal(await result.locator('mark').innerText(), 'quantum');

    // Twenty at a time (and any others of the same millisecond as the twentieth), newest first; More brings the rest.
    await box.fill('zebra');
    await box.press('Enter');
    await ivy.page.locator('.search-result').nth(19).waitFor();
    assert.ok((await ivy.page.locator('.search-result').count()) < 25, 'one page first');
    assert.match(await ivy.page.locator('.search-result .result-text').first().innerText(), /number 25$/);
    await ivy.page.getByRole('button', { name: 'More results' }).click();
    await ivy.page.locator('.search-result').nth(24).waitFor();
    assert.match(await ivy.page.locator('.search-result .result-text').last().innerText(), /number 1$/);
    assert.equal(await ivy.page.getByRole('button', { name: 'More results' }).count(), 0);
    await screenshot(ivy.page, 'timeline-search');

    // A result in another room opens that room at the message.
    await box.fill('quantum');
    await box.press('Enter');
    await ivy.page.locator('.search-result', { hasText: 'both here and there' }).click();
    await ivy.page.locator('.room-title', { hasText: 'library' }).waitFor();
    const found = message(ivy.page, 'the quantum cat is both here and there');
    await found.waitFor();
    assert.ok(await inView(ivy.page, found));

    // The oldest zebra, on a phone: the lobby's first page does not hold it, so history is loaded.
    await ivy.page.setViewportSize(PHONE);
    await ivy.page.getByRole('button', { name: 'Search' }).click();
    await box.fill('zebra number 1');
    await box.press('Enter');
    await ivy.page.locator('.search-result').first().waitFor();
    await screenshot(ivy.page, 'timeline-search-phone');
    await ivy.page.locator('.search-result', { hasText: /number 1$/ }).click();
    const oldest = message(ivy.page, 'zebra crossing number 1');
    await oldest.waitFor();
    assert.ok(await inView(ivy.page, oldest));
    await ivy.page.setViewportSize(DESKTOP);
    assert.deepEqual(ivy.errors, []);
  } finally {
    rob.close();
    await ivy.context.close();
  }
});

test('on a phone: a tap shows a message\'s actions, @ offers names, reactions and replies fit the width', async () => {
  const jo = await newPage(browser, { viewport: PHONE });
  const kim = await newPage(browser);
  try {
    await signInAsGuest(jo.page, server.url, 'Jo');
    await signInAsGuest(kim.page, server.url, 'Kim');
    await say(kim.page, 'a long message from Kim to see how the reactions and a reply look on a narrow screen');
    await waitForMessage(jo.page, 'a long message from Kim to see how the reactions and a reply look on a narrow screen');
    const item = message(jo.page, 'a long message from Kim to see how the reactions and a reply look on a narrow screen');
    await item.locator('.text').click();
    await item.getByRole('button', { name: 'React', exact: true }).click();
    await jo.page.getByRole('dialog', { name: 'Add a reaction' }).getByRole('button', { name: '🎉' }).click();
    await item.locator('.reaction', { hasText: '🎉' }).waitFor();
    await item.locator('.text').click();
    await item.getByRole('button', { name: 'Reply', exact: true }).click();
    // @ and the start of a name offers the people of the room; Enter takes one.
    await composer(jo.page).pressSequentially('@ki');
    await jo.page.getByRole('option', { name: '@Kim' }).waitFor();
    await composer(jo.page).press('Enter');
    assert.equal(await composer(jo.page).inputValue(), '@Kim ');
    await composer(jo.page).pressSequentially('looks fine');
    await composer(jo.page).press('Enter');
    await waitForMessage(jo.page, '@Kim looks fine');
    await message(jo.page, 'a long message from Kim to see how the reactions and a reply look on a narrow screen').locator('.text').click();
    await screenshot(jo.page, 'timeline-phone');
    const width = await jo.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= PHONE.width, `nothing wider than the screen (${width})`);
    assert.deepEqual([...jo.errors, ...kim.errors], []);
  } finally {
    await jo.context.close();
    await kim.context.close();
  }
});
