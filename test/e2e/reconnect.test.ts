/**
 * The server restarts while a page is open: the page shows that it is reconnecting, keeps the
 * text in the message box, delivers a message sent while offline once, and afterwards shows every
 * message that another client sent meanwhile exactly once, without a reload, with the edits,
 * reactions and deletions made meanwhile folded into their messages. And when the server
 * comes back from an older backup, the page drops the messages the server no longer has.
 */
import { cpSync, rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { freePort, spawnServer, tempDataDir, type SpawnedServer } from '../helpers/server.js';
import { ParleyClient, signIn, type ChatMessage } from '../../src/client/index.js';
import { composer, launchBrowser, messageText, newPage, say, screenshot, signInAsGuest, waitForMessage } from './browser.js';

let browser: Browser;
let server: SpawnedServer | undefined;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A bot publishes over HTTP with its Bearer token, as a backend would. */
async function publish(url: string, token: string, text: string): Promise<void> {
  const res = await fetch(`${url}/api/rooms/lobby/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ data: text }),
  });
  assert.equal(res.status, 201, `publish "${text}": ${res.status} ${await res.text()}`);
}

async function stopServer(): Promise<void> {
  await server?.stop();
  server = undefined;
}

/** A server of its own on `dataDir`, the token of a bot that publishes, and a page for Rita. */
async function serverAndPage(dataDir: string) {
  const settings = { DATA_DIR: dataDir, PORT: String(await freePort()) };
  server = await spawnServer(settings);
  const url = server.url;
  const { token } = await signIn.guest(url, 'Newsbot');
  return { settings, url, token, ...(await newPage(browser)) };
}

test('after a server restart the open page catches up on missed messages exactly once, and on edits, reactions and deletions', async () => {
  const { settings, url, token, context, page, errors } = await serverAndPage(tempDataDir());
  // The bot is in lobby over the SDK too, so that Rita's people list has someone in it.
  const bot = new ParleyClient({ url, token });
  try {
    bot.connect();
    bot.join('lobby');
    await signInAsGuest(page, url, 'Rita');
    const people = page.locator('.users');
    await people.locator('.user-name', { hasText: 'Newsbot' }).waitFor();
    await say(page, 'before the restart');
    await publish(url, token, 'bot: first');
    await waitForMessage(page, 'bot: first');
    const toEdit = await bot.send('lobby', 'bot: to edit');
    const toDelete = await bot.send('lobby', 'bot: to delete');
    await waitForMessage(page, 'bot: to delete');

    await stopServer();
    const banner = page.locator('.banner', { hasText: 'Reconnecting' });
    await banner.waitFor();
    // Who is here is not known while away: the last list stays, marked as such, instead of nobody.
    await people.getByText('Reconnecting…').waitFor();
    assert.equal(await people.locator('.side-title').first().innerText(), 'LAST SEEN (2)');
    assert.deepEqual(await people.locator('.user-name').allInnerTexts(), ['Rita', 'Newsbot']);
    await screenshot(page, 'reconnecting-desktop');

    // Sent while offline: shown as pending; then a draft that must survive the outage.
    await composer(page).fill('sent while offline');
    await composer(page).press('Enter');
    await page.locator('.messages li.pending', { hasText: 'sent while offline' }).getByText('Sending…').waitFor();
    await composer(page).fill('a draft I keep typing');

    server = await spawnServer(settings);
    // Published before the page has (most likely) reconnected: it must come in the replay.
    const missed = ['bot: missed 1', 'bot: missed 2', 'bot: missed 3'];
    for (const text of missed) await publish(url, token, text);
    // Changed while the page is away: the replay brings the events, folded into their messages.
    const fixer = new ParleyClient({ url, token });
    fixer.connect();
    await fixer.edit('lobby', toEdit.id, 'bot: edited while away');
    await fixer.react('lobby', toEdit.id, '👍');
    await fixer.delete('lobby', toDelete.id);
    fixer.close();

    // The SDK's backoff may have grown to its 10 s cap while the server was away.
    await banner.waitFor({ state: 'hidden', timeout: 45_000 });
    await people.getByText('Reconnecting…').waitFor({ state: 'detached' });
    assert.match(await people.locator('.side-title').first().innerText(), /^ONLINE \(\d\)$/);
    for (const text of missed) await waitForMessage(page, text);
    await waitForMessage(page, 'bot: edited while away');
    const edited = page.locator('.messages li.msg', { has: page.locator('p.text', { hasText: /^bot: edited while away$/ }) });
    await edited.locator('.edited').waitFor();
    await edited.locator('.reaction', { hasText: '👍1' }).waitFor();
    await page.locator(`.messages li.msg.deleted[data-id="${toDelete.id}"]`).waitFor();
    assert.equal(await page.getByText('bot: to delete').count(), 0, 'the deleted text is gone from the page');
    await waitForMessage(page, 'sent while offline');
    await page.locator('.messages li.pending').waitFor({ state: 'detached' });
    // Live delivery continues after the catch-up.
    await publish(url, token, 'bot: after the restart');
    await waitForMessage(page, 'bot: after the restart');

    for (const text of ['before the restart', 'bot: first', 'bot: edited while away', ...missed, 'sent while offline', 'bot: after the restart']) {
      assert.equal(await messageText(page, text).count(), 1, `"${text}" is shown exactly once`);
    }
    assert.equal(await composer(page).inputValue(), 'a draft I keep typing', 'the draft survived the outage');

    // The message sent while offline was stored once, in order with the rest.
    const res = await fetch(`${url}/api/rooms/lobby/messages?limit=100`, { headers: { authorization: `Bearer ${token}` } });
    const history = (await res.json()) as { data: ChatMessage[] };
    assert.equal(history.data.filter((m) => m.data === 'sent while offline').length, 1);
    const shown = await page.locator('.messages li.msg:not(.pending)').evaluateAll((els) =>
      els.map((el) => Number((el as HTMLElement).dataset.id)),
    );
    assert.deepEqual(shown, history.data.map((m) => m.id), 'the page shows the stored messages, in id order');
    assert.deepEqual(errors, []);
  } finally {
    bot.close();
    await context.close();
  }
});

test('after the server comes back from an older backup, the page drops what is gone, says so, and shows the new messages', async () => {
  // The test before leaves its server running for the after() hook, which stops only the last one.
  await stopServer();
  const dataDir = tempDataDir();
  const backup = tempDataDir();
  const { settings, url, token, context, page, errors } = await serverAndPage(dataDir);
  try {
    await signInAsGuest(page, url, 'Rita');
    for (const text of ['one', 'two', 'three']) await publish(url, token, text);
    await waitForMessage(page, 'three');

    // A backup, with the server stopped; then two more messages, which the page shows.
    await stopServer();
    cpSync(dataDir, backup, { recursive: true });
    server = await spawnServer(settings);
    for (const text of ['four', 'five']) await publish(url, token, text);
    await waitForMessage(page, 'five');

    // The operator restores the backup: lobby ends at message 3 again.
    await stopServer();
    rmSync(dataDir, { recursive: true, force: true });
    cpSync(backup, dataDir, { recursive: true });
    server = await spawnServer(settings);
    await page.getByText('was restored to an earlier point: the messages after #3 are gone').waitFor({ timeout: 45_000 });
    await publish(url, token, 'four, after the restore');
    await waitForMessage(page, 'four, after the restore');
    await screenshot(page, 'restored-backup-desktop');

    assert.equal(await messageText(page, 'four').count(), 0, 'a message the server no longer has is not shown');
    assert.equal(await messageText(page, 'five').count(), 0, 'a message the server no longer has is not shown');
    const shown = await page.locator('.messages li.msg:not(.pending)').evaluateAll((els) =>
      els.map((el) => `${(el as HTMLElement).dataset.id} ${el.querySelector('.text')?.textContent}`),
    );
    assert.deepEqual(shown, ['1 one', '2 two', '3 three', '4 four, after the restore']);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    rmSync(backup, { recursive: true, force: true });
  }
});
