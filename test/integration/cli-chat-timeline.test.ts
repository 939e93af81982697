/**
 * `parley chat` and the timeline (issue 18), as processes against the real server: /reply, /react,
 * /unreact, /edit and /delete seen by another client as lines that name and quote their message;
 * refusals and bad input as `!` lines that change nothing; /search and /more; the new frames with
 * --json (read markers and mentions included); the bell on a mention in a real terminal (tmux).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signIn } from '../../src/client/index.js';
import { signInGuest } from '../helpers/chat-client.js';
import { startTestServer } from '../helpers/server.js';
import { JsonChat, PipedChat, Terminal, cliArgs, hasTmux, runCli, type JsonEvent } from './cli-helpers.js';

/** Waits (bounded) for what tmux passes on from the terminal to reach its file. */
async function until(done: () => boolean, what: string, seen: () => string): Promise<void> {
  for (let tries = 0; !done(); tries++) {
    if (tries === 100) throw new Error(`no ${what}; written: ${JSON.stringify(seen())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const named = (name: string) => (e: JsonEvent) => (e.user as { name?: string } | undefined)?.name === name;

describe('parley chat: replies, reactions, edits and deletions (lines piped in and out)', () => {
  it('shows another client each change as a line that names and quotes its message; refusals and bad input are ! lines that change nothing', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const ann = new PipedChat([server.url, '--name', 'ann']);
    const bob = new PipedChat([server.url, '--name', 'bob']);
    try {
      await ann.waitFor(/^\* in lobby: /, 'ann in lobby');
      await bob.waitFor(/^\* in lobby: /, 'bob in lobby');

      ann.send('where shall we meet for lunch today, friends?');
      await bob.waitFor(/^\d\d:\d\d #1 ann: where shall we meet for lunch today, friends\?$/, 'the message with its id');
      bob.send('/reply 1 at the usual place');
      await ann.waitFor(/^\d\d:\d\d #2 bob: at the usual place {2}↪ #1 ann: "where shall we meet for lunch…"$/, 'the reply, quoting what it answers');
      bob.send('/react #1 👍');
      await ann.waitFor(/^\d\d:\d\d bob reacted 👍 to #1 \(ann: "where shall we meet for lunch…"\)$/, 'the reaction');
      ann.send('/edit 1 where shall we meet?');
      await bob.waitFor(/^\d\d:\d\d ann edited #1: where shall we meet\?$/, 'the edit');
      bob.send('/unreact 1 👍');
      await ann.waitFor(/^\d\d:\d\d bob took back 👍 on #1 \(ann: "where shall we meet\?"\)$/, 'the reaction taken back, quoting the edited text');
      bob.send('/delete 2');
      await ann.waitFor(/^\d\d:\d\d bob deleted #2$/, 'the deletion');

      const mark = bob.lines.length;
      for (const line of ['/edit 1 hijacked', '/delete 99', '/reply 99 to nothing', '/unreact 1 🎉', '/react 1 nope', '/edit one two', '/delete', '/history 10']) {
        bob.send(line);
      }
      await bob.waitFor(/^! \/edit #1 refused \(forbidden\): only its author can edit message 1$/, 'an edit of ann’s message refused', mark);
      await bob.waitFor(/^! \/delete #99 refused \(not_found\): no message 99 in "lobby"$/, 'a delete of no message refused', mark);
      await bob.waitFor(/^! not sent \(not_found\): no message 99 in "lobby" to reply to$/, 'a reply to no message refused', mark);
      await bob.waitFor(/^! \/unreact #1 🎉 refused \(not_found\): you have no 🎉 on message 1$/, 'an unreact of nothing refused', mark);
      await bob.waitFor(/^! usage: \/react ID EMOJI: "nope" is not one emoji$/, 'not an emoji', mark);
      await bob.waitFor(/^! usage: \/edit ID TEXT: ID is a message number of the current room, as its line shows it \(#12 or 12\), not "one"$/, 'not an id', mark);
      await bob.waitFor(/^! usage: \/delete ID$/, 'no id', mark);
      // History shows each message as it is now, and nothing the refused commands asked for.
      const head = await bob.waitFor(/^\* last 2 messages of lobby:$/, 'the history', mark);
      assert.match(bob.lines[head + 1]!, /^\d\d:\d\d #1 ann: where shall we meet\? \(edited\)$/);
      assert.match(bob.lines[head + 2]!, /^\d\d:\d\d #2 bob: \(deleted\) {2}↪ #1 ann: "where shall we meet\?"$/);

      assert.equal(await ann.end(), 0, ann.stderr);
      assert.equal(await bob.end(), 0, bob.stderr);
      // A pipe is no terminal: no bell in the lines.
      assert.ok(![...ann.lines, ...bob.lines].some((l) => l.includes('\x07')));
    } finally {
      ann.kill();
      bob.kill();
      await server.close();
    }
  });

  it('/search prints each match with its day, time, room, id, author and text, in every room or in one; /more goes on to the end', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const sam = new PipedChat([server.url, '--name', 'sam']);
    try {
      await sam.waitFor(/^\* in lobby: /, 'sam in lobby');
      // One at a time: a page ends with every match that shares the time of its oldest, and
      // messages sent in one go can share a millisecond.
      const lobby = Array.from({ length: 24 }, (_, i) => `deploy number ${i + 1}`);
      for (const [i, text] of [...lobby, 'lunch, anyone?'].entries()) {
        sam.send(text);
        await sam.waitFor(new RegExp(`^\\d\\d:\\d\\d #${i + 1} sam: `), `message ${i + 1}`);
      }
      for (const line of ['/join ops', 'deploy of ops done', '/search deploy', '/more', '/more', '/search #ops deploy', '/search zebra', '/search #no-such-room deploy']) {
        sam.send(line);
      }
      const r = { code: await sam.end(), stdout: sam.lines.join('\n'), stderr: sam.stderr };
      assert.equal(r.code, 0, r.stderr);
      const out = r.stdout.split('\n');
      const result = /^ {2}\d{4}-\d\d-\d\d \d\d:\d\d \[(\w+)\] #(\d+) sam: (.*)$/;
      // Each answer: its head line, then its results as "room #id text".
      const pages: string[][] = [];
      let page: string[] | undefined;
      for (const l of out) {
        if (/^\* (more )?found for "deploy"/.test(l)) pages.push((page = []));
        else if (page && result.test(l)) page.push(l.replace(result, '$1 #$2 $3'));
        else page = undefined;
      }
      assert.equal(pages.length, 3, r.stdout);
      assert.equal(pages[0]![0], 'ops #1 deploy of ops done', 'newest first');
      assert.ok(pages[0]!.length >= 20 && pages[0]!.length < 25, `a first page of 20: ${pages[0]!.length}`);
      const all = [...pages[0]!, ...pages[1]!];
      assert.deepEqual(
        all.slice(1),
        lobby.map((text, i) => `lobby #${i + 1} ${text}`).reverse(),
        'the two pages hold every lobby match once, newest first',
      );
      assert.match(r.stdout, /^\* older ones exist: \/more$/m);
      assert.match(r.stdout, /^\* that is all$/m);
      assert.match(r.stdout, /^! \/more: nothing more found for "deploy"$/m);
      assert.deepEqual(pages[2], ['ops #1 deploy of ops done'], 'only ops');
      assert.match(r.stdout, /^\* found for "deploy" in ops, newest first:$/m);
      assert.match(r.stdout, /^\* nothing found for "zebra"$/m);
      assert.match(r.stdout, /^! \/search refused \(not_found\): no room "no-such-room"$/m);
      assert.doesNotMatch(r.stdout, / {2}.*lunch, anyone\?/, 'no line that does not match');
    } finally {
      sam.kill();
      await server.close();
    }
  });
});

describe('parley chat: going too fast', () => {
  it('says so in a line when the server refuses a /search for going too fast (RATE_LIMIT), and still exits 0', async () => {
    const server = await startTestServer({ RATE_LIMIT: '1' });
    try {
      // A burst of two frames: the join and the first search; the next search comes right after.
      const r = await runCli(['chat', server.url, '--name', 'hasty'], '/search one\n/search two\n');
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^\* nothing found for "one"$/m);
      assert.match(r.stdout, /^! \/search refused \(rate_limited\): too many messages: slow down$/m);
    } finally {
      await server.close();
    }
  });
});

describe('parley chat --json and the timeline', () => {
  it('prints every new frame: react, edit, delete, mention, read (from another connection), search, room, and the acks and refusals of changes', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const jo = await signInGuest(server.url, 'jo');
    const phone = new JsonChat([server.url, '--token', jo.token, '--room', 'side']);
    const laptop = new JsonChat([server.url, '--token', jo.token]);
    const kim = new JsonChat([server.url, '--name', 'kim']);
    try {
      await phone.waitFor((e) => e.type === 'list' && e.room === 'side', 'jo on the phone, in side');
      await laptop.waitFor((e) => e.type === 'list' && e.room === 'lobby', 'jo on the laptop, in lobby');
      await kim.waitFor((e) => e.type === 'list' && e.room === 'lobby', 'kim in lobby');

      kim.send('hello @jo, are you there?');
      const chat = await laptop.waitFor((e) => e.type === 'chat' && named('kim')(e), 'the message at the laptop');
      assert.deepEqual(chat.mentions, [jo.user.id]);
      const mention = await phone.waitFor((e) => e.type === 'mention', 'the mention on the phone, not in lobby');
      assert.deepEqual([mention.room, mention.id, (mention.user as { name: string }).name], ['lobby', chat.id, 'kim']);
      await laptop.waitFor((e) => e.type === 'mention' && e.id === chat.id, 'the mention at the laptop');

      laptop.send(`/react ${String(chat.id)} 🎉`);
      const ack = await laptop.waitFor((e) => e.type === 'ack' && e.action === 'react', 'the ack of the reaction');
      assert.deepEqual([ack.target, ack.emoji], [chat.id, '🎉']);
      const react = await kim.waitFor((e) => e.type === 'react', 'the reaction at kim');
      assert.deepEqual([react.target, react.emoji, react.on, react.id], [chat.id, '🎉', true, ack.id]);

      kim.send(`/edit ${String(chat.id)} hello again @jo`);
      const edit = await laptop.waitFor((e) => e.type === 'edit', 'the edit at the laptop');
      assert.deepEqual([edit.target, edit.data], [chat.id, 'hello again @jo']);

      laptop.send('/search again');
      const search = await laptop.waitFor((e) => e.type === 'search', 'the search answer');
      assert.equal(search.q, 'again');
      assert.equal(search.more, false);
      assert.deepEqual(
        (search.data as Array<{ room: string; id: number; data: string }>).map((m) => [m.room, m.id, m.data]),
        [['lobby', chat.id, 'hello again @jo']],
      );

      kim.send(`/delete ${String(chat.id)}`);
      const deleted = await laptop.waitFor((e) => e.type === 'delete', 'the deletion at the laptop');
      assert.equal(deleted.target, chat.id);
      // The laptop printed everything up to the deletion: its read marker reaches the phone.
      await phone.waitFor((e) => e.type === 'read' && e.room === 'lobby' && e.id === deleted.id, 'the read marker on the phone');

      const mark = laptop.events.length;
      laptop.send(`/edit ${String(chat.id)} mine now`);
      laptop.send('/delete abc');
      const refused = await laptop.waitFor((e) => e.type === 'error' && e.action === 'edit', 'the refused edit', mark);
      assert.deepEqual([refused.code, refused.target], ['not_found', chat.id]);
      const bad = await laptop.waitFor((e) => e.type === 'error' && e.code === 'bad_command', 'the bad id', mark);
      assert.match(String(bad.message), /usage: \/delete ID/);

      kim.send('/join kims-room');
      const room = await laptop.waitFor((e) => e.type === 'room', 'a new room kim made', mark);
      assert.deepEqual([room.room, room.private], ['kims-room', false]);

      assert.equal(await kim.end(), 0);
      assert.equal(await laptop.end(), 0);
      assert.equal(await phone.end(), 0);
    } finally {
      phone.kill();
      laptop.kill();
      kim.kill();
      await server.close();
    }
  });
});

describe('parley chat in a terminal: mentions', { skip: hasTmux ? false : 'tmux is not installed (scripts/test.sh installs it)' }, () => {
  it('marks a message that names you and rings the bell; a mention in a room you are not in says so in a line', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    // An account: in a public room, @name names the accounts and those present (a guest elsewhere is not named).
    await signIn.register(server.url, 'tess', 'a long enough password');
    const term = new Terminal([process.execPath, ...cliArgs, 'chat', server.url, '--name', 'tess', '--password', 'a long enough password']);
    const peer = new JsonChat([server.url, '--name', 'uma']);
    try {
      await term.waitFor(/\* in lobby: tess/, 'tess in lobby');
      const written = term.record();
      await peer.waitFor((e) => e.type === 'list', 'uma in lobby');
      // uma may have come before tess's list was made (then the list names her) or after (a join line).
      await term.waitFor(/\* (uma joined lobby|in lobby: .*\buma\b)/, 'uma in lobby at tess');

      peer.send('nothing for tess');
      await term.waitFor(/\d\d:\d\d #\d+ uma: nothing for tess$/m, 'a plain message');
      peer.send('look here @tess');
      await term.waitFor(/\d\d:\d\d #\d+ uma: look here @tess {2}\(mentions you\)/, 'the marked message');
      const bells = () => [...written()].filter((c) => c === '\x07').length;
      await until(() => bells() === 1, 'one bell, for the message that names tess', written);

      peer.send('/join ops');
      await peer.waitFor((e) => e.type === 'list' && e.room === 'ops', 'uma in ops');
      peer.send('@tess the deploy is stuck');
      await term.waitFor(/\* uma mentioned you in ops \(#1\): \/join ops to read it/, 'the mention from a room tess is not in');
      await until(() => bells() === 2, 'a second bell', written);
      assert.doesNotMatch(term.screen(), /deploy is stuck/, 'the message itself is in a room tess is not in');
    } finally {
      term.close();
      peer.kill();
      await server.close();
    }
  });
});
