/**
 * Private rooms and direct messages in the browser: Alice creates a private room and invites Bob,
 * Bob and Alice talk in a DM opened from the people list, and Carol, a third user, sees neither
 * in her room list nor through the API with her session. Bob leaves the room for good.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { launchBrowser, newPage, say, screenshot, signInAsGuest, waitForMessage } from './browser.js';

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

test('a private room and a DM are visible to their members only', async () => {
  const alice = await newPage(browser);
  const bob = await newPage(browser);
  const carol = await newPage(browser);
  try {
    await signInAsGuest(alice.page, server.url, 'Alice');
    await signInAsGuest(bob.page, server.url, 'Bob');

    // A public room Alice creates shows in Bob's list at once, without a refresh.
    await alice.page.getByRole('button', { name: /New room/ }).click();
    await alice.page.getByLabel('Room name').fill('town-square');
    await alice.page.getByRole('button', { name: 'Create', exact: true }).click();
    await alice.page.locator('.room-title', { hasText: 'town-square' }).waitFor();
    await bob.page.locator('.rooms .other-room', { hasText: 'town-square' }).waitFor();

    // Alice creates a private room with the keyboard-reachable form and writes in it.
    await alice.page.getByRole('button', { name: /New room/ }).click();
    await alice.page.getByLabel('Room name').fill('secret-plans');
    await alice.page.getByLabel('Private (invite only)').check();
    await alice.page.getByRole('button', { name: 'Create', exact: true }).click();
    await alice.page.locator('.room-title', { hasText: 'secret-plans' }).waitFor();
    await say(alice.page, 'the plan is ready');

    // Bob does not see it until she invites him; then it appears in his list at once.
    assert.equal(await bob.page.locator('.rooms .room-item', { hasText: 'secret-plans' }).count(), 0);
    await alice.page.getByRole('button', { name: 'Invite Bob' }).click();
    await alice.page.getByText('Bob can now see this room.').waitFor();
    await bob.page.locator('.rooms .room-item', { hasText: 'secret-plans' }).waitFor();
    await screenshot(bob.page, 'rooms-appear-live');
    await bob.page.locator('.rooms .room-item', { hasText: 'secret-plans' }).click();
    await waitForMessage(bob.page, 'the plan is ready');

    // Bob opens a DM by clicking Alice in the people list; Alice gets it with an unread count.
    await bob.page.locator('.rooms .room-item', { hasText: 'lobby' }).click();
    await bob.page.locator('.users button.user-item', { hasText: 'Alice' }).click();
    await bob.page.locator('.room-title', { hasText: 'Alice' }).waitFor();
    // Alice has not opened the conversation, but she is online (in lobby): the DM shows her so.
    await bob.page.locator('.users button.user-item', { hasText: 'Alice' }).waitFor();
    await say(bob.page, 'psst, just between us');
    await alice.page.locator('.rooms .room-item', { hasText: 'lobby' }).click();
    const dmEntry = alice.page.locator('.rooms .room-item', { hasText: 'Bob' });
    await dmEntry.locator('.unread-badge', { hasText: '1' }).waitFor();
    // The tab's title counts it too, to be seen from another tab; reading it clears the count.
    await alice.page.waitForFunction(() => document.title === '(1) lobby · Parley');
    await dmEntry.click();
    await waitForMessage(alice.page, 'psst, just between us');
    await alice.page.waitForFunction(() => document.title === 'Bob · Parley');
    await say(alice.page, 'got it 👍');
    await waitForMessage(bob.page, 'got it 👍');
    // A conversation of two is not a room one leaves: nothing offers it.
    assert.equal(await alice.page.getByRole('button', { name: 'Leave room' }).count(), 0, 'no Leave room in a DM');
    await screenshot(alice.page, 'dm-desktop');

    // Carol sees neither the private room nor the DM.
    await signInAsGuest(carol.page, server.url, 'Carol');
    await carol.page.getByRole('button', { name: 'Refresh' }).click();
    const carolRooms = await carol.page.locator('.rooms').innerText();
    assert.ok(carolRooms.includes('lobby'));
    assert.ok(!carolRooms.includes('secret-plans'), 'the private room is not listed for Carol');
    assert.ok(!carolRooms.includes('Bob') && !carolRooms.includes('Alice'), 'no DM is listed for Carol');
    // Nor through the API with her session cookie.
    const seen = await carol.page.evaluate(async () => {
      const rooms = (await (await fetch('/api/rooms')).json()) as { rooms: Array<{ name: string }> };
      const dm = rooms.rooms.find((r) => r.name.startsWith('dm:'));
      const privateHistory = await fetch('/api/rooms/secret-plans/messages');
      return { names: rooms.rooms.map((r) => r.name), dm, privateStatus: privateHistory.status };
    });
    assert.ok(seen.names.includes('lobby'));
    assert.ok(!seen.names.includes('secret-plans'));
    assert.equal(seen.dm, undefined);
    assert.ok([403, 404].includes(seen.privateStatus), `private history refused (got ${seen.privateStatus})`);
    assert.equal(await carol.page.getByText('the plan is ready').count(), 0);
    assert.equal(await carol.page.getByText('psst, just between us').count(), 0);

    // Alice has never met Carol in a room: she finds her by name and invites her.
    await alice.page.locator('.rooms .room-item', { hasText: 'secret-plans' }).click();
    await alice.page.getByRole('searchbox', { name: 'Find someone by name' }).fill('car');
    await alice.page.getByRole('button', { name: 'Invite Carol' }).waitFor();
    // The server's answer marks her as a guest.
    await alice.page.locator('.users .other-room', { hasText: 'Carol' }).locator('.badge', { hasText: 'guest' }).waitFor();
    assert.equal(await alice.page.getByRole('button', { name: 'Invite Bob' }).count(), 0, 'only those whose name starts with "car"');
    await screenshot(alice.page, 'invite-search');
    await alice.page.getByRole('button', { name: 'Invite Carol' }).click();
    await alice.page.getByText('Carol can now see this room.').waitFor();
    await carol.page.locator('.rooms .room-item', { hasText: 'secret-plans' }).click();
    await waitForMessage(carol.page, 'the plan is ready');

    // Bob leaves the private room: it leaves his list, and stays gone after a reload.
    await bob.page.locator('.rooms .room-item', { hasText: 'secret-plans' }).click();
    await bob.page.getByRole('button', { name: 'Leave room' }).click();
    await bob.page.locator('.room-title', { hasText: 'lobby' }).waitFor();
    await bob.page.locator('.rooms .room-item', { hasText: 'secret-plans' }).waitFor({ state: 'detached' });
    await bob.page.reload();
    await bob.page.locator('.room-title', { hasText: 'lobby' }).waitFor();
    await bob.page.locator('.rooms .room-item', { hasText: 'Alice' }).waitFor();
    assert.equal(await bob.page.locator('.rooms .room-item', { hasText: 'secret-plans' }).count(), 0);
    assert.deepEqual([...alice.errors, ...bob.errors, ...carol.errors], []);
  } finally {
    await alice.context.close();
    await bob.context.close();
    await carol.context.close();
  }
});
