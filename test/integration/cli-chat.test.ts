/**
 * `parley chat` as a process against the real server: scripted through stdin/stdout with --json,
 * surviving a server restart, and the interactive mode driven in a real terminal (tmux).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { freePort, spawnServer, startTestServer, tempDataDir } from '../helpers/server.js';
import { JsonChat, PipedChat, Terminal, cliArgs, hasTmux, repoRoot, runCli, type JsonEvent } from './cli-helpers.js';

const isChat = (data: string) => (e: JsonEvent) => e.type === 'chat' && e.data === data;

describe('parley chat --json', () => {
  it('stays in its room when a /join is refused', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const owner = await fetch(`${server.url}/api/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"owner"}' });
    const { token } = (await owner.json()) as { token: string };
    const made = await fetch(`${server.url}/api/rooms`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'secret', private: true }),
    });
    assert.equal(made.status, 201);
    const eve = new JsonChat([server.url, '--name', 'eve']);
    try {
      await eve.waitFor((e) => e.type === 'list' && e.room === 'lobby', 'eve in lobby');
      eve.send('/join secret');
      // A private room is, to a non-member, a room that does not exist (and cannot be created either).
      await eve.waitFor((e) => e.type === 'error' && e.code === 'not_found', 'the refusal');
      const back = await eve.waitFor((e) => e.type === 'current', 'back in a room');
      assert.equal(back.room, 'lobby');
      eve.send('still here');
      const ack = await eve.waitFor((e) => e.type === 'ack' && e.data === 'still here', 'the ack');
      assert.equal(ack.room, 'lobby');
      assert.equal(await eve.end(), 0);
    } finally {
      eve.kill();
      await server.close();
    }
  });


  it('lets two scripts talk in a room, see who is there, send a DM, read history, and exit 0 at the end of stdin', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    const ann = new JsonChat([server.url, '--name', 'ann']);
    const bob = new JsonChat([server.url, '--name', 'bob', '--room', 'lobby']);
    try {
      await ann.waitFor((e) => e.type === 'list', 'ann in lobby');
      await bob.waitFor((e) => e.type === 'list', 'bob in lobby');

      ann.send('hello bob');
      const ack = await ann.waitFor((e) => e.type === 'ack' && e.data === 'hello bob', 'ann ack');
      const atBob = await bob.waitFor(isChat('hello bob'), 'bob sees ann');
      assert.deepEqual((atBob.user as { name: string }).name, 'ann');
      assert.equal(atBob.id, ack.id);
      assert.equal(atBob.room, 'lobby');

      bob.send('/who');
      const who = await bob.waitFor((e) => e.type === 'who', 'who');
      assert.deepEqual((who.data as Array<{ name: string }>).map((u) => u.name).sort(), ['ann', 'bob']);

      bob.send('/dm ann just between us');
      const dm = await ann.waitFor(isChat('just between us'), 'the DM at ann');
      assert.match(String(dm.room), /^dm:\d+:\d+$/);

      ann.send('/join side');
      await ann.waitFor((e) => e.type === 'list' && e.room === 'side', 'ann in side');
      ann.send('over here');
      const side = await ann.waitFor((e) => e.type === 'ack' && e.data === 'over here', 'ack in side');
      assert.equal(side.room, 'side', 'plain text goes to the current room');

      bob.send('/history 10');
      const history = await bob.waitFor((e) => e.type === 'history', 'history');
      assert.deepEqual((history.data as Array<{ data: string }>).map((m) => m.data), ['hello bob']);

      bob.send('/nonsense');
      await bob.waitFor((e) => e.type === 'error' && e.code === 'bad_command', 'bad command');

      const mark = bob.events.length;
      assert.equal(await ann.end(), 0);
      await bob.waitFor((e) => e.type === 'left' && (e.user as { name: string }).name === 'ann', 'ann left', mark);
      assert.equal(await bob.end(), 0);
    } finally {
      ann.kill();
      bob.kill();
      await server.close();
    }
  });

  it('ends quietly, with code 0, when the program reading its output goes away', async () => {
    const server = await startTestServer();
    try {
      // As `parley chat URL --json | head -1`: the reader takes the first line and closes the pipe.
      const child = spawn(process.execPath, [...cliArgs, 'chat', server.url, '--name', 'piped', '--json'], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      child.stdout.destroy();
      // Keep it printing: each line typed is sent, and its ack is a line of output.
      for (let i = 0; i < 5; i++) child.stdin.write(`line ${i}\n`);
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0);
      assert.doesNotMatch(stderr, /EPIPE|Error/);
    } finally {
      await server.close();
    }
  });

  it('sends what a script pipes in and exits once it is acked', async () => {
    const server = await startTestServer();
    const cli = new JsonChat([server.url, '--name', 'piper']);
    try {
      cli.send('one');
      cli.send('two');
      assert.equal(await cli.end(), 0);
      const acks = cli.events.filter((e) => e.type === 'ack').map((e) => e.data);
      assert.deepEqual(acks, ['one', 'two']);
    } finally {
      cli.kill();
      await server.close();
    }
  });

  it("takes a script's lines in order: what follows /join of a new room goes there, /history shows what was sent before it", async () => {
    const server = await startTestServer();
    const cli = new JsonChat([server.url, '--name', 'scripter']);
    try {
      // All at once, as a pipe delivers them: the room does not exist until the client creates it.
      for (const line of ['in lobby', '/join fresh', 'one', 'two', '/who', '/history 5', '/join lobby', 'lobby again', '/join last']) cli.send(line);
      assert.equal(await cli.end(), 0);
      const seen = cli.events.filter((e) => ['ack', 'error', 'who', 'history', 'list'].includes(e.type));
      assert.deepEqual(
        seen.filter((e) => e.type === 'error'),
        [],
        'nothing refused',
      );
      const acks = seen.filter((e) => e.type === 'ack').map((e) => `${String(e.room)}: ${String(e.data)}`);
      assert.deepEqual(acks, ['lobby: in lobby', 'fresh: one', 'fresh: two', 'lobby: lobby again']);
      const who = seen.find((e) => e.type === 'who');
      assert.deepEqual(who && [who.room, (who.data as Array<{ name: string }>).map((u) => u.name)], ['fresh', ['scripter']]);
      const history = seen.find((e) => e.type === 'history');
      assert.deepEqual(history && (history.data as Array<{ data: string }>).map((m) => m.data), ['one', 'two']);
      // The last /join, at the end of the input, is answered before the command exits.
      assert.ok(cli.events.some((e) => e.type === 'list' && e.room === 'last'), 'joined the last room');
    } finally {
      cli.kill();
      await server.close();
    }
  });

  it('survives a server restart (SIGKILL): says it is reconnecting, then goes on without losing a message', async () => {
    const dataDir = tempDataDir();
    const port = String(await freePort());
    let server = await spawnServer({ DATA_DIR: dataDir, PORT: port });
    const cli = new JsonChat([server.url, '--name', 'steady']);
    try {
      cli.send('before');
      await cli.waitFor(isChat('before'), 'first message');
      await server.stop('SIGKILL');
      const mark = cli.events.length;
      await cli.waitFor((e) => e.type === 'state' && e.state === 'reconnecting', 'reconnecting', mark);
      cli.send('while down');
      server = await spawnServer({ DATA_DIR: dataDir, PORT: port });
      await cli.waitFor((e) => e.type === 'state' && e.state === 'open', 'open again', mark);
      const during = await cli.waitFor(isChat('while down'), 'the queued message', mark);
      assert.equal(during.id, 2);
      cli.send('after');
      await cli.waitFor(isChat('after'), 'a message after the restart', mark);
      const ids = cli.events.filter((e) => e.type === 'chat').map((e) => e.id);
      assert.deepEqual(ids, [1, 2, 3], 'each message once, in order');
      assert.equal(await cli.end(), 0);
    } finally {
      cli.kill();
      await server.stop('SIGTERM');
    }
  });
});

describe('parley chat in a terminal', { skip: hasTmux ? false : 'tmux is not installed (scripts/test.sh installs it)' }, () => {
  it('shows messages with time and sender, presence, /who, sends what is typed, /dm, reconnects, /quit', async () => {
    const dataDir = tempDataDir();
    const port = String(await freePort());
    let server = await startTestServer({ DATA_DIR: dataDir, PORT: port });
    const term = new Terminal([process.execPath, ...cliArgs, 'chat', server.url, '--name', 'tess']);
    let peer: JsonChat | undefined;
    try {
      await term.waitFor(/connected to .* as tess/, 'the connected line');
      await term.waitFor(/\* in lobby: tess/, 'the list of the room');
      peer = new JsonChat([server.url, '--name', 'uma']);
      await peer.waitFor((e) => e.type === 'list', 'uma in lobby');
      await term.waitFor(/\* uma joined lobby/, 'presence of uma');

      peer.send('hi tess');
      await term.waitFor(/\d\d:\d\d #\d+ uma: hi tess/, 'the message with time and sender');

      term.keys('hello uma', 'Enter');
      const fromTess = await peer.waitFor(isChat('hello uma'), 'what tess typed');
      assert.equal((fromTess.user as { name: string }).name, 'tess');
      await term.waitFor(/\d\d:\d\d #\d+ tess: hello uma/, 'own message shown once delivered');

      term.keys('/who', 'Enter');
      await term.waitFor(/\* in lobby: (tess, uma|uma, tess)/, '/who');

      term.keys('/dm uma a secret', 'Enter');
      const dm = await peer.waitFor(isChat('a secret'), 'the DM');
      assert.match(String(dm.room), /^dm:/);

      await server.close();
      await term.waitFor(/connection lost .* reconnecting in/, 'the reconnecting line');
      server = await startTestServer({ DATA_DIR: dataDir, PORT: port });
      await term.waitFor(/\* reconnected/, 'the reconnected line');
      term.keys('back again', 'Enter');
      await term.waitFor(/\d\d:\d\d #\d+ tess: back again/, 'a message after the restart');

      term.keys('/quit', 'Enter');
      await term.waitExit('/quit');
    } finally {
      term.close();
      peer?.kill();
      await server.close();
    }
  });
});

describe('parley chat with lines piped in (no --json)', () => {
  it('delivers what was piped before /quit or the end of input (DMs too), refuses a bad room name itself, and sends nothing after /quit', async () => {
    const server = await startTestServer({ RATE_LIMIT: '0' });
    try {
      // `echo … | parley chat`: the end of input comes right after the line.
      const notify = await runCli(['chat', server.url, '--name', 'ci'], 'build finished\n');
      assert.equal(notify.code, 0, notify.stderr);
      assert.match(notify.stdout, /\d\d:\d\d #\d+ ci: build finished/);
      assert.doesNotMatch(notify.stdout, /not sent|not confirmed/);

      // `ci` is known from the room's recent messages, which come before the piped lines are read.
      const lines = ['one', '/join bad/name', 'two', '/dm ci psst', '/history 5', '/quit', 'three', ''];
      const r = await runCli(['chat', server.url, '--name', 'piper'], lines.join('\n'));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /! cannot join bad\/name: room must be a room name/);
      assert.match(r.stdout, /\d\d:\d\d #\d+ piper: one/);
      assert.match(r.stdout, /\d\d:\d\d #\d+ piper: two/);
      assert.match(r.stdout, /\* last 3 messages of lobby:/);
      assert.match(r.stdout, /\d\d:\d\d \[dm ci\] #\d+ piper: psst/);
      assert.doesNotMatch(r.stdout, /not sent|not confirmed|three/);

      // What the room kept: each line once, in order, and nothing sent after /quit.
      const guest = await fetch(`${server.url}/api/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"reader"}' });
      const { token } = (await guest.json()) as { token: string };
      const history = await fetch(`${server.url}/api/rooms/lobby/messages?limit=10`, { headers: { authorization: `Bearer ${token}` } });
      const { data } = (await history.json()) as { data: Array<{ data: string }> };
      assert.deepEqual(
        data.map((m) => m.data),
        ['build finished', 'one', 'two'],
      );
    } finally {
      await server.close();
    }
  });
});

describe('parley chat after a server restart (lines piped in and out)', () => {
  it('shows no line again: not a DM entered by an incoming message, not a room joined a second time', async () => {
    const dataDir = tempDataDir();
    const port = String(await freePort());
    let server = await spawnServer({ DATA_DIR: dataDir, PORT: port, RATE_LIMIT: '0' });
    const carol = new PipedChat([server.url, '--name', 'carol']);
    const dave = new PipedChat([server.url, '--name', 'dave']);
    try {
      await carol.waitFor(/^\* in lobby: /, 'carol in lobby');
      await dave.waitFor(/^\* in lobby: /, 'dave in lobby');
      carol.send('hello lobby');
      await dave.waitFor(/^\d\d:\d\d #\d+ carol: hello lobby$/, 'the lobby line at dave');
      dave.send('/dm carol just for you');
      await carol.waitFor(/^\d\d:\d\d \[dm dave\] #\d+ dave: just for you$/, 'the DM at carol');
      await dave.waitFor(/^\d\d:\d\d \[dm carol\] #\d+ dave: just for you$/, 'the DM at dave');
      // Back to a room carol is in already: no list comes for it, and nothing is due to be shown.
      carol.send('/join 聊天室');
      await carol.waitFor(/^\* in 聊天室: carol$/, 'carol in 聊天室');
      const beforeWho = carol.lines.length;
      carol.send('/join lobby');
      carol.send('/who');
      await carol.waitFor(/^\* in lobby: /, '/who in lobby', beforeWho);

      const carolMark = carol.lines.length;
      const daveMark = dave.lines.length;
      await server.stop('SIGKILL');
      await carol.waitFor(/^\* connection lost/, 'carol sees the cut', carolMark);
      server = await spawnServer({ DATA_DIR: dataDir, PORT: port, RATE_LIMIT: '0' });
      await carol.waitFor(/^\* reconnected$/, 'carol reconnected', carolMark);
      await dave.waitFor(/^\* reconnected$/, 'dave reconnected', daveMark);
      carol.send('back');
      await dave.waitFor(/^\d\d:\d\d #\d+ carol: back$/, 'a new line at dave', daveMark);
      await carol.waitFor(/^\d\d:\d\d #\d+ carol: back$/, 'a new line at carol', carolMark);
      assert.equal(await carol.end(), 0, carol.stderr);
      assert.equal(await dave.end(), 0, dave.stderr);

      const repeated = (lines: string[]) => lines.filter((l) => /just for you|hello lobby|^\* in /.test(l));
      assert.deepEqual(repeated(carol.lines.slice(carolMark)), [], `carol:\n${carol.lines.join('\n')}`);
      assert.deepEqual(repeated(dave.lines.slice(daveMark)), [], `dave:\n${dave.lines.join('\n')}`);
    } finally {
      carol.kill();
      dave.kill();
      await server.stop('SIGTERM');
    }
  });
});
