/** The parts of a `parley chat` session that need no server: the order of lines, and what quitting waits for. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineGate } from '../../src/cli/chat-line-gate.js';
import { QuitDrain } from '../../src/cli/chat-quit-drain.js';

/** A gate whose taken lines are recorded; a `/join X` line holds the next ones for X, as the session does. */
function recordingGate() {
  const taken: string[] = [];
  let done = 0;
  const gate: LineGate = new LineGate({
    firstRoom: 'lobby',
    waitMs: 60_000,
    take: (line) => {
      taken.push(line);
      const join = /^\/join (\S+)$/.exec(line);
      if (join) gate.holdFor(join[1]!);
    },
    onInputDone: () => done++,
  });
  return { gate, taken, done: () => done };
}

test('lines wait for the first room, then for each new room joined among them, and go in order', () => {
  const { gate, taken, done } = recordingGate();
  for (const line of ['one', '/join side', 'two', 'three']) gate.push(line);
  gate.endOfInput();
  assert.deepEqual(taken, [], 'nothing before the first room answers');
  gate.release('side');
  assert.deepEqual(taken, [], 'another room answering lets nothing go');
  gate.release('lobby');
  assert.deepEqual(taken, ['one', '/join side'], 'held again behind the /join');
  assert.equal(done(), 0);
  gate.release('side');
  assert.deepEqual(taken, ['one', '/join side', 'two', 'three']);
  assert.equal(done(), 1, 'the end of input counts once every line is taken');
  gate.push('late');
  assert.deepEqual(taken.at(-1), 'late', 'an open gate takes a line at once');
});

test('a stopped gate takes no line, held or new, and never reports the end of input', () => {
  const { gate, taken, done } = recordingGate();
  gate.push('held');
  gate.stop();
  gate.release('lobby');
  gate.push('after');
  gate.endOfInput();
  assert.deepEqual(taken, []);
  assert.equal(done(), 0);
});

test('quitting waits for requests, for sends, and for the chat line of an acked message', async () => {
  const drain = new QuitDrain();
  let ack!: () => void;
  const send = new Promise<void>((resolve) => (ack = resolve));
  drain.trackSend(send);
  let drained = false;
  void drain.drained().then(() => (drained = true));
  let sendsSettled = false;
  void drain.sendsSettled().then(() => (sendsSettled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, false);
  assert.equal(sendsSettled, false);

  drain.expectEcho('lobby', 7);
  ack();
  await new Promise((r) => setImmediate(r));
  assert.equal(sendsSettled, true);
  assert.equal(drained, false, 'the chat line of message 7 is still to come');
  drain.echoed('lobby', 6);
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, false, 'another message does not count');
  drain.echoed('lobby', 7);
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, true);
});
