/**
 * Moderation in the browser: a room's owner makes a moderator from the people list; the moderator
 * deletes a spammer's message, mutes (the spammer's composer is disabled, and enabled again on
 * unmute or when a timed mute ends), kicks (a notice, the room left) and bans them (the room says
 * why in place of its messages), reads the audit log and lifts the ban from it; after a reload, the
 * owner is offered Unban on a banned user however long the audit log, and a banned moderator no
 * audit log; a refusal of the
 * server shows in the menu; an admin's ban from the whole server (4003) ends on a page that says so,
 * with no reconnecting. Screenshots at desktop and phone size.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Locator, Page } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createRoom, findUsers, moderation, signIn } from '../../src/client/index.js';
import { PHONE, composer, launchBrowser, messageText, newPage, say, screenshot, signInAsGuest, waitForMessage } from './browser.js';

let server: TestServer;
let browser: Browser;
const PASSWORD = 'correct horse battery';

before(async () => {
  server = await startTestServer({ ADMINS: 'root', RATE_LIMIT: '0' });
  browser = await launchBrowser();
  await signIn.register(server.url, 'root', PASSWORD);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Logs in with the form's "Log in" tab and waits for the lobby. */
async function logIn(page: Page, name: string): Promise<void> {
  await page.goto(server.url);
  await page.locator('#tab-login').click();
  await page.locator('#signin-name').fill(name);
  await page.locator('#signin-password').fill(PASSWORD);
  await page.locator('#signin-form button[type="submit"]').click();
  await page.locator('#composer-input').waitFor();
  await page.locator('.users .user-item.self').waitFor({ state: 'attached' });
}

/** Joins a public room from "Other rooms" and waits until it is on screen. */
async function join(page: Page, room: string): Promise<void> {
  await page.getByRole('button', { name: `Join ${room}`, exact: true }).click();
  await page.locator('.room-title', { hasText: room }).waitFor();
  await page.locator('.users .user-item.self').waitFor({ state: 'attached' });
}

/** Someone's row in the people list. */
function person(page: Page, name: string): Locator {
  return page.locator('.users li.person').filter({ has: page.locator('.user-name', { hasText: new RegExp(`^${name}$`) }) });
}

/** Opens the moderation menu on someone from the people list. */
async function menuOn(page: Page, name: string): Promise<Locator> {
  await person(page, name).getByRole('button', { name: `Moderate ${name}`, exact: true }).click();
  const dialog = page.getByRole('dialog', { name: `Moderate ${name}` });
  await dialog.waitFor();
  return dialog;
}

function message(page: Page, text: string): Locator {
  return page.locator('.messages li.msg:not(.pending)').filter({ has: page.locator('p.text', { hasText: text }) });
}

function modLine(page: Page, text: string): Locator {
  return page.locator('.messages li.mod-line', { hasText: text });
}

test('a moderator bans a guest who was spamming; the guest\'s page says so (with delete, mute, kick, roles and the audit log on the way)', async () => {
  const owner = await signIn.register(server.url, 'olga', PASSWORD);
  await createRoom(server.url, 'help', { token: owner.token });
  const olga = await newPage(browser);
  const mia = await newPage(browser);
  const sam = await newPage(browser);
  const root = await newPage(browser);
  try {
    await logIn(olga.page, 'olga');
    await signInAsGuest(mia.page, server.url, 'mia');
    await signInAsGuest(sam.page, server.url, 'sam');
    await logIn(root.page, 'root');
    for (const page of [olga.page, mia.page, sam.page, root.page]) await join(page, 'help');

    // The owner's mark; a member gets no menu on anyone.
    await person(olga.page, 'olga').locator('.role-owner', { hasText: 'owner' }).waitFor();
    await person(mia.page, 'olga').locator('.role-owner').waitFor();
    await person(mia.page, 'sam').waitFor();
    assert.equal(await mia.page.locator('.person-menu').count(), 0, 'a member moderates nobody');
    assert.equal(await mia.page.locator('#open-audit').count(), 0);

    // The owner makes mia a moderator: the mark shows on every page, and mia gets the menus.
    await person(olga.page, 'mia').waitFor();
    const promote = await menuOn(olga.page, 'mia');
    await promote.getByRole('button', { name: 'Make moderator' }).click();
    await promote.waitFor({ state: 'detached' });
    await person(mia.page, 'mia').locator('.role-moderator', { hasText: 'mod' }).waitFor();
    await person(sam.page, 'mia').locator('.role-moderator').waitFor();
    await modLine(sam.page, 'olga made mia a moderator').waitFor();
    await modLine(mia.page, 'olga made you a moderator').waitFor();
    await mia.page.locator('#open-audit').waitFor();
    // A moderator has no power over the owner: no menu on her.
    await person(mia.page, 'sam').locator('.person-menu').waitFor();
    assert.equal(await person(mia.page, 'olga').locator('.person-menu').count(), 0);

    // sam spams; mia deletes a message of his from its actions.
    await say(sam.page, 'BUY CHEAP PILLS now');
    await say(sam.page, 'BUY CHEAP PILLS again');
    await waitForMessage(mia.page, 'BUY CHEAP PILLS now');
    mia.page.once('dialog', (dialog) => void dialog.accept());
    const spam = message(mia.page, 'BUY CHEAP PILLS now');
    await spam.hover();
    await spam.getByRole('button', { name: 'Delete (moderator)' }).click();
    for (const page of [mia.page, sam.page, olga.page]) {
      await modLine(page, 'deleted a message by').waitFor();
      await page.locator('.messages li.msg.deleted').waitFor();
      assert.equal(await messageText(page, 'BUY CHEAP PILLS now').count(), 0);
    }
    await modLine(sam.page, 'mia deleted a message by you').waitFor();

    // root is an admin (the welcome names the admins): marked so, and nothing is offered on him.
    await person(mia.page, 'root').getByText('admin', { exact: true }).waitFor();
    assert.equal(await person(mia.page, 'root').locator('.person-menu').count(), 0);
    await say(root.page, 'root here');
    await waitForMessage(mia.page, 'root here');
    const bySam = message(mia.page, 'BUY CHEAP PILLS again');
    await bySam.hover();
    await bySam.getByRole('button', { name: 'Moderate sam' }).waitFor();
    const byRoot = message(mia.page, 'root here');
    await byRoot.hover();
    await byRoot.getByRole('button', { name: 'Delete (moderator)' }).waitFor();
    assert.equal(await byRoot.getByRole('button', { name: 'Moderate root' }).count(), 0);

    // Mute for 10 minutes: sam's composer is disabled and says why and until when; the room sees a line.
    const mute = await menuOn(mia.page, 'sam');
    await screenshot(mia.page, 'moderation-menu');
    await mute.getByRole('button', { name: 'Mute' }).click();
    await mute.getByRole('heading', { name: 'Mute sam for…' }).waitFor();
    await mute.getByRole('button', { name: '10 minutes' }).click();
    await mute.waitFor({ state: 'detached' });
    await sam.page.locator('#muted-note', { hasText: 'You are muted in help by mia' }).waitFor();
    assert.match((await sam.page.locator('#muted-note').textContent()) ?? '', /until .+ \((9|10):\d\d left\)/);
    assert.equal(await composer(sam.page).isDisabled(), true);
    // Muted, his own message offers only Delete: a reply, a reaction or an edit would be refused.
    const ownWhileMuted = message(sam.page, 'BUY CHEAP PILLS again');
    await ownWhileMuted.hover();
    await ownWhileMuted.getByRole('button', { name: 'Delete', exact: true }).waitFor();
    for (const name of ['Reply', 'React', 'Edit']) assert.equal(await ownWhileMuted.getByRole('button', { name, exact: true }).count(), 0, name);
    await modLine(olga.page, 'mia muted sam for 10 minutes').waitFor();
    await modLine(sam.page, 'mia muted you for 10 minutes').waitFor();
    await person(olga.page, 'sam').locator('.muted-mark').waitFor();
    await screenshot(sam.page, 'moderation-muted-composer');
    // Reloaded, his page still says by whom (the welcome names who muted him).
    await sam.page.reload();
    await sam.page.locator('nav.rooms .room-item', { hasText: 'help' }).click();
    await sam.page.locator('#muted-note', { hasText: 'You are muted in help by mia' }).waitFor();

    // Unmute: the composer is back.
    const unmute = await menuOn(mia.page, 'sam');
    await unmute.getByRole('button', { name: 'Unmute' }).click();
    await sam.page.locator('#muted-note').waitFor({ state: 'detached' });
    assert.equal(await composer(sam.page).isDisabled(), false);
    await message(sam.page, 'BUY CHEAP PILLS again').hover();
    await message(sam.page, 'BUY CHEAP PILLS again').getByRole('button', { name: 'React', exact: true }).waitFor();
    await say(sam.page, 'sorry');
    assert.equal(await person(olga.page, 'sam').locator('.muted-mark').count(), 0);

    // Kick: sam is told, and the room is left (in "Other rooms" again); he can join again.
    const kick = await menuOn(mia.page, 'sam');
    await kick.getByRole('button', { name: 'Kick' }).click();
    await sam.page.locator('.room-closed', { hasText: 'mia removed you from help' }).waitFor();
    await sam.page.getByRole('button', { name: 'Join help', exact: true }).waitFor();
    await modLine(olga.page, 'mia removed sam from the room').waitFor();
    await person(mia.page, 'sam').waitFor({ state: 'detached' });
    await sam.page.locator('.room-closed').getByRole('button', { name: 'Join again' }).click();
    await waitForMessage(sam.page, 'sorry');
    await person(mia.page, 'sam').waitFor();

    // Ban for an hour: sam's page says so in place of the room; the room and the audit log show it.
    await say(sam.page, 'BUY CHEAP PILLS once more');
    const ban = await menuOn(mia.page, 'sam');
    await ban.getByRole('button', { name: 'Ban' }).click();
    await ban.getByRole('button', { name: '1 hour' }).click();
    const closed = sam.page.locator('.room-closed');
    await closed.getByRole('heading', { name: 'You are banned from help' }).waitFor();
    await closed.getByText('by mia').waitFor();
    await closed.getByText(/^until .+ \((59:\d\d|1:00:00) left\)$/).waitFor();
    assert.equal(await sam.page.locator('#composer-input').count(), 0, 'no composer in a room one is banned from');
    assert.equal(await messageText(sam.page, 'sorry').count(), 0, 'nor its messages');
    await modLine(olga.page, 'mia banned sam for 1 hour').waitFor();
    await screenshot(sam.page, 'moderation-banned');
    // "Try again" while the ban lasts: still banned.
    await closed.getByRole('button', { name: 'Try again' }).click();
    await closed.getByRole('heading', { name: 'You are banned from help' }).waitFor();
    // The room stays in his list, marked closed, and so after a reload (the welcome says where he is banned).
    const bannedItem = sam.page.locator('nav.rooms').getByRole('button', { name: /^help\s*\(banned\)$/ });
    await bannedItem.waitFor();
    assert.equal(await sam.page.getByRole('button', { name: 'Join help', exact: true }).count(), 0, 'not offered as a room to join');
    await sam.page.reload();
    await bannedItem.waitFor();
    await bannedItem.click();
    await closed.getByRole('heading', { name: 'You are banned from help' }).waitFor();
    await closed.getByText('by mia').waitFor();
    await closed.getByText(/^until .+ left\)$/).waitFor();
    await screenshot(sam.page, 'moderation-banned-after-reload');

    await mia.page.locator('#open-audit').click();
    const audit = mia.page.getByRole('dialog', { name: 'Audit log of help' });
    await audit.locator('.audit-items li').first().waitFor();
    const lines = await audit.locator('.audit-text').allTextContents();
    assert.deepEqual(lines, [
      'You banned sam for 1 hour',
      'You removed sam from the room',
      'You unmuted sam',
      'You muted sam for 10 minutes',
      'You deleted a message by sam',
      'olga made you a moderator',
    ]);
    await audit.locator('.banned-now li', { hasText: 'sam' }).waitFor();
    await screenshot(mia.page, 'moderation-audit');

    // The ban is lifted from the audit log; sam's "Try again" lets him in.
    await audit.getByRole('button', { name: 'Unban sam' }).click();
    await audit.locator('.banned-now').waitFor({ state: 'detached' });
    await audit.locator('.audit-text').first().filter({ hasText: 'You lifted the ban on sam' }).waitFor();
    await audit.getByRole('button', { name: 'Close' }).click();
    await closed.getByRole('button', { name: 'Try again' }).click();
    await waitForMessage(sam.page, 'BUY CHEAP PILLS once more');
    assert.equal(await composer(sam.page).isDisabled(), false);

    // The owner removes the moderator: the mark goes.
    const demote = await menuOn(olga.page, 'mia');
    await demote.getByRole('button', { name: 'Remove moderator' }).click();
    await person(sam.page, 'mia').locator('.role-moderator').waitFor({ state: 'detached' });
    await mia.page.locator('#open-audit').waitFor({ state: 'detached' });
    assert.deepEqual([...olga.errors, ...mia.errors, ...sam.errors, ...root.errors], []);
  } finally {
    for (const p of [olga, mia, sam, root]) await p.context.close();
  }
});

test('after a reload, however long the audit log, the owner is offered Unban on a banned user\'s message and in "Banned now"; a banned moderator is offered no audit log', async () => {
  const owner = await signIn.register(server.url, 'nora', PASSWORD);
  await createRoom(server.url, 'desk', { token: owner.token });
  const zoe = await signIn.guest(server.url, 'zoe');
  const nora = await newPage(browser);
  const ned = await newPage(browser);
  const kai = await newPage(browser);
  try {
    await logIn(nora.page, 'nora');
    await signInAsGuest(ned.page, server.url, 'ned');
    for (const page of [nora.page, ned.page]) await join(page, 'desk');
    await say(ned.page, 'ned spam');
    await waitForMessage(nora.page, 'ned spam');

    // The owner bans ned for a day from his message; then a busy room: 110 actions on someone else.
    const spam = message(nora.page, 'ned spam');
    await spam.hover();
    await spam.getByRole('button', { name: 'Moderate ned' }).click();
    const ban = nora.page.getByRole('dialog', { name: 'Moderate ned' });
    await ban.getByRole('button', { name: 'Ban', exact: true }).click();
    await ban.getByRole('button', { name: '1 day' }).click();
    await ban.waitFor({ state: 'detached' });
    await ned.page.locator('.room-closed').waitFor();
    for (let i = 0; i < 55; i++) {
      await moderation.mute(server.url, 'desk', zoe.user.id, { token: owner.token });
      await moderation.unmute(server.url, 'desk', zoe.user.id, owner.token);
    }

    // kai comes in after the ban, a member (whose list names no bans), and is made a moderator: his
    // page asks who is banned, and offers Unban on ned's message.
    await signInAsGuest(kai.page, server.url, 'kai');
    await join(kai.page, 'desk');
    const [kaiUser] = await findUsers(server.url, 'kai', { token: owner.token });
    await moderation.setRole(server.url, 'desk', kaiUser!.id, 'moderator', owner.token);
    await kai.page.locator('#open-audit').waitFor();
    const seenByKai = message(kai.page, 'ned spam');
    await seenByKai.hover();
    await seenByKai.getByRole('button', { name: 'Moderate ned' }).click();
    const kaiMenu = kai.page.getByRole('dialog', { name: 'Moderate ned' });
    await kaiMenu.getByRole('button', { name: 'Unban' }).waitFor();
    assert.equal(await kaiMenu.getByRole('button', { name: 'Kick' }).count(), 0);
    await kai.page.keyboard.press('Escape');
    await kaiMenu.waitFor({ state: 'detached' });

    // After a reload the page knows ned is banned before any audit log is read: Unban, no Kick, no Ban.
    await nora.page.reload();
    await nora.page.locator('#composer-input').waitFor();
    await nora.page.locator('.rooms .room-item', { has: nora.page.locator('.room-label', { hasText: /^desk$/ }) }).click();
    await nora.page.locator('.room-title', { hasText: 'desk' }).waitFor();
    const old = message(nora.page, 'ned spam');
    await old.hover();
    await old.getByRole('button', { name: 'Moderate ned' }).click();
    const menu = nora.page.getByRole('dialog', { name: 'Moderate ned' });
    await menu.getByRole('button', { name: 'Unban' }).waitFor();
    const offered = (await menu.locator('.sheet-action').allTextContents()).map((a) => a.trim());
    assert.ok(offered.includes('Unban') && !offered.includes('Ban') && !offered.includes('Kick'), JSON.stringify(offered));
    await screenshot(nora.page, 'moderation-menu-banned-after-reload');
    await nora.page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });

    // The audit log's first page (100 entries) no longer has the ban; "Banned now" still names ned, with Unban.
    await nora.page.locator('#open-audit').click();
    const audit = nora.page.getByRole('dialog', { name: 'Audit log of desk' });
    await audit.locator('.audit-items li').first().waitFor();
    assert.equal(await audit.locator('.audit-items li').count(), 100);
    assert.equal(await audit.locator('.audit-ban').count(), 0, 'the ban is past the first page');
    await audit.locator('.banned-now li', { hasText: 'ned' }).getByText(/^until /).waitFor();
    await screenshot(nora.page, 'moderation-audit-banned-now');
    await audit.getByRole('button', { name: 'Unban ned' }).click();
    await audit.locator('.banned-now').waitFor({ state: 'detached' });
    await audit.getByRole('button', { name: 'Close' }).click();

    // A moderator banned from the room moderates it no more: the log open on the page closes, and no
    // audit log is on offer (the server would refuse it).
    await kai.page.locator('#open-audit').click();
    const kaiAudit = kai.page.getByRole('dialog', { name: 'Audit log of desk' });
    await kaiAudit.locator('.audit-items li').first().waitFor();
    await moderation.ban(server.url, 'desk', kaiUser!.id, { minutes: 60, token: owner.token });
    await kai.page.locator('.room-closed').getByRole('heading', { name: 'You are banned from desk' }).waitFor();
    await kaiAudit.waitFor({ state: 'detached' });
    assert.equal(await kai.page.locator('#open-audit').count(), 0, 'no audit log in the header');
    assert.equal(await kai.page.locator('.audit-open-narrow').count(), 0, 'nor in the people panel');
    await screenshot(kai.page, 'moderation-banned-moderator');
    assert.deepEqual([...nora.errors, ...ned.errors, ...kai.errors], []);
  } finally {
    for (const p of [nora, ned, kai]) await p.context.close();
  }
});

test('on a phone: the moderator\'s menu, a muted composer that enables itself when the mute ends, a ban and the audit log fit the screen', async () => {
  const owner = await signIn.register(server.url, 'pia', PASSWORD);
  await createRoom(server.url, 'phones', { token: owner.token });
  const pia = await newPage(browser, { viewport: PHONE });
  const tom = await newPage(browser, { viewport: PHONE });
  try {
    await logIn(pia.page, 'pia');
    await signInAsGuest(tom.page, server.url, 'tom');
    await tom.page.locator('#toggle-rooms').click();
    await join(tom.page, 'phones');
    await pia.page.locator('#toggle-rooms').click();
    await join(pia.page, 'phones');
    await say(tom.page, 'hello from a phone');

    // The people panel, then the menu as a sheet from the bottom, within the screen.
    await pia.page.locator('#toggle-users').click();
    const sheet = await menuOn(pia.page, 'tom');
    await sheet.getByRole('button', { name: 'Mute' }).click();
    await sheet.getByRole('button', { name: '10 minutes' }).waitFor();
    const box = await sheet.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.width + 1 && box.y + box.height <= PHONE.height + 1, 'the sheet fits the screen');
    await screenshot(pia.page, 'moderation-menu-phone');
    await sheet.getByRole('button', { name: '10 minutes' }).click();
    await tom.page.locator('#muted-note', { hasText: 'You are muted in phones by pia' }).waitFor();
    await screenshot(tom.page, 'moderation-muted-composer-phone');

    // Ten minutes later (the page's clock moved on; nothing is sent when a mute ends), the box is back.
    await tom.page.clock.setFixedTime(Date.now() + 11 * 60_000);
    await tom.page.locator('#muted-note').waitFor({ state: 'detached' });
    assert.equal(await composer(tom.page).isDisabled(), false);
    await tom.page.clock.setFixedTime(Date.now());

    // The audit log on a phone, and a ban until lifted.
    await pia.page.locator('#toggle-users').click();
    const ban = await menuOn(pia.page, 'tom');
    await ban.getByRole('button', { name: 'Ban' }).click();
    await ban.getByRole('button', { name: 'Until lifted' }).click();
    const closed = tom.page.locator('.room-closed');
    await closed.getByRole('heading', { name: 'You are banned from phones' }).waitFor();
    await closed.getByText('until a moderator lifts it').waitFor();
    await screenshot(tom.page, 'moderation-banned-phone');
    // On a phone the audit log opens from the people panel (the header has no room for it).
    assert.equal(await pia.page.locator('#open-audit').isVisible(), false);
    await pia.page.locator('#toggle-users').click();
    await pia.page.locator('.users').getByRole('button', { name: 'Audit log' }).click();
    const audit = pia.page.getByRole('dialog', { name: 'Audit log of phones' });
    await audit.locator('.audit-text', { hasText: 'You banned tom' }).waitFor();
    const auditBox = await audit.boundingBox();
    assert.ok(auditBox && auditBox.x + auditBox.width <= PHONE.width + 1, 'the audit log fits the width');
    const wide = await pia.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(wide <= PHONE.width, `nothing wider than the screen (${wide}px)`);
    await screenshot(pia.page, 'moderation-audit-phone');
    assert.deepEqual([...pia.errors, ...tom.errors], []);
  } finally {
    await pia.context.close();
    await tom.context.close();
  }
});

test('banned from the server by an admin (4003): a page that says so, no reconnecting, and no signing in again', async () => {
  const root = await signIn.login(server.url, 'root', PASSWORD);
  const vic = await signIn.register(server.url, 'vic', PASSWORD);
  const page = await newPage(browser);
  try {
    await logIn(page.page, 'vic');
    await say(page.page, 'hi all');
    let sockets = 0;
    page.page.on('websocket', () => sockets++);
    await moderation.banEverywhere(server.url, vic.user.id, true, root.token);
    await page.page.getByRole('heading', { name: 'Your account was banned from this server.' }).waitFor();
    await screenshot(page.page, 'moderation-banned-server');
    // The SDK's first reconnect would come within a second: none comes.
    await page.page.waitForTimeout(2_000);
    assert.equal(sockets, 0, 'no reconnect after 4003');
    assert.equal(await page.page.locator('.banner').count(), 0, 'no "reconnecting" banner');

    await page.page.getByRole('button', { name: 'Back to sign-in' }).click();
    await page.page.locator('#tab-login').click();
    await page.page.locator('#signin-name').fill('vic');
    await page.page.locator('#signin-password').fill(PASSWORD);
    await page.page.locator('#signin-form button[type="submit"]').click();
    await page.page.locator('#signin-error', { hasText: 'Your account was banned from this server.' }).waitFor();
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context.close();
  }
});
