import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { chatFramePrefix, encodeAckFrame, encodeChatFrame, encodeFrame } from '../../src/realtime/frames.js';
import { OutboundQueue } from '../../src/realtime/outbound.js';
import { RateLimit } from '../../src/realtime/rate-limiter.js';

/** One client of a RateLimit: its `due` and its refusals in a row, as a connection keeps them. */
function client(limit: RateLimit) {
  let due = 0;
  let refusedInARow = 0;
  return {
    take(): boolean {
      const next = limit.admit(due);
      if (next < 0) {
        refusedInARow++;
        return false;
      }
      due = next;
      refusedInARow = 0;
      return true;
    },
    get abusive() {
      return limit.abusive(refusedInARow);
    },
  };
}

describe('RateLimit', () => {
  it('allows a burst of twice the rate, then the rate', () => {
    let now = 0;
    const limiter = client(new RateLimit(5, () => now));
    let allowed = 0;
    for (let i = 0; i < 20; i++) if (limiter.take()) allowed++;
    assert.equal(allowed, 10);
    now += 1000;
    allowed = 0;
    for (let i = 0; i < 20; i++) if (limiter.take()) allowed++;
    assert.equal(allowed, 5);
  });

  it('refills at the rate up to a full burst, whatever the rate', () => {
    for (const rate of [1, 3, 7, 20, 1000]) {
      let now = 1_000_000;
      const limiter = client(new RateLimit(rate, () => now));
      let allowed = 0;
      for (let i = 0; i < rate * 4; i++) if (limiter.take()) allowed++;
      assert.equal(allowed, rate * 2, `a full bucket at rate ${rate}`);
      now += 60_000;
      allowed = 0;
      for (let i = 0; i < rate * 4; i++) if (limiter.take()) allowed++;
      assert.equal(allowed, rate * 2, `never more than a full bucket at rate ${rate}`);
      now += 1000;
      allowed = 0;
      for (let i = 0; i < rate * 4; i++) if (limiter.take()) allowed++;
      assert.equal(allowed, rate, `one second's worth at rate ${rate}`);
    }
  });

  it('keeps each client in its own bucket', () => {
    const limit = new RateLimit(5, () => 0);
    const a = client(limit);
    const b = client(limit);
    for (let i = 0; i < 10; i++) assert.ok(a.take());
    assert.equal(a.take(), false);
    assert.ok(b.take());
  });

  it('calls a client abusive once it sends a whole burst more while refused', () => {
    const limiter = client(new RateLimit(5, () => 0));
    for (let i = 0; i < 10; i++) limiter.take();
    for (let i = 0; i < 10; i++) limiter.take();
    assert.equal(limiter.abusive, false);
    limiter.take();
    assert.equal(limiter.abusive, true);
  });

  it('never limits with rate 0', () => {
    const limiter = client(new RateLimit(0, () => 0));
    for (let i = 0; i < 10_000; i++) assert.ok(limiter.take());
    assert.equal(limiter.abusive, false);
  });
});

describe('encodeFrame', () => {
  it('frames a message as one unmasked text frame, with the extended length when needed', () => {
    const small = encodeFrame({ type: 'typing', room: 'r', user: { id: 1, name: 'a' } });
    assert.equal(small[0], 0x81);
    assert.equal(small[1], small.length - 2);
    const big = encodeFrame({ type: 'error', code: 'bad_request', message: 'x'.repeat(70_000) });
    assert.equal(big[1], 127);
    assert.equal(Number(big.readBigUInt64BE(2)), big.length - 10);
    assert.equal(JSON.parse(big.subarray(10).toString()).message.length, 70_000);
  });
});

describe('chat and ack frames', () => {
  // Names, texts and cids a user can send: quotes, backslashes, control characters, CJK, emoji,
  // and the line separators that JSON allows unescaped.
  const payloadOf = (frame: Buffer) => frame.subarray(frame[1] === 126 ? 4 : 2).toString();
  const awkward = ['plain', 'say "hi"', 'back\\slash', 'tab\tnew\nline\u0001', '聊天室', '👋🏽', '\u2028\u2029', ''];

  it('are the same bytes as the generic encoder gives, with and without a cid', () => {
    for (const room of ['lobby', 'dm:1:2', '房间 "A"']) {
      const prefix = chatFramePrefix(room);
      for (const text of awkward) {
        const base = { room, id: 12_345, user: { id: 7, name: `n${text}` }, data: text, ts: 1_764_000_000_123 };
        for (const m of [base, { ...base, cid: `c${text}` }]) {
          assert.deepEqual(encodeChatFrame(prefix, m), encodeFrame({ type: 'chat', ...m }));
          assert.deepEqual(JSON.parse(payloadOf(encodeChatFrame(prefix, m))), { type: 'chat', ...m });
        }
        assert.deepEqual(
          encodeAckFrame(`c${text}`, room, 3, 1_764_000_000_123),
          encodeFrame({ type: 'ack', cid: `c${text}`, room, id: 3, ts: 1_764_000_000_123 }),
        );
      }
    }
  });

  it('take the extended length when the message is long', () => {
    const m = { room: 'lobby', id: 1, user: { id: 1, name: 'a' }, data: '字'.repeat(30_000), ts: 1 };
    const frame = encodeChatFrame(chatFramePrefix('lobby'), m);
    assert.equal(frame[1], 127);
    assert.deepEqual(frame, encodeFrame({ type: 'chat', ...m }));
  });
});

describe('OutboundQueue', () => {
  it('writes the frames of one turn together, in order', async () => {
    const socket = new PassThrough();
    const written: Buffer[] = [];
    socket.on('data', (b: Buffer) => written.push(b));
    let counted = 0;
    const queue = new OutboundQueue(socket, 1 << 20, {
      framesWritten: (n) => (counted += n),
      slowReader: () => assert.fail('not slow'),
    });
    queue.push(Buffer.from('a'));
    queue.push(Buffer.from('b'));
    queue.push(Buffer.from('c'));
    assert.equal(written.length, 0, 'nothing is written during the turn');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(Buffer.concat(written).toString(), 'abc');
    assert.equal(counted, 3);
  });

  it("writes the frames a room's members share as one buffer from the second member on, and keeps each socket's bytes", async () => {
    const sockets = Array.from({ length: 4 }, () => {
      const socket = new PassThrough();
      const got: Buffer[] = [];
      socket.on('data', (b: Buffer) => got.push(b));
      let writes = 0;
      const write = socket.write.bind(socket) as (chunk: Buffer) => boolean;
      socket.write = ((chunk: Buffer) => {
        writes++;
        return write(chunk);
      }) as typeof socket.write;
      let frames = 0;
      const queue = new OutboundQueue(socket, 1 << 20, { framesWritten: (n) => (frames += n), slowReader: () => assert.fail('not slow') });
      return { queue, bytes: () => Buffer.concat(got).toString(), writes: () => writes, frames: () => frames };
    });
    const [sender, a, b, c] = sockets;
    // As a room broadcast pushes: each frame to every member in turn; the sender also gets its acks.
    for (const text of ['m1', 'm2', 'm3']) {
      const frame = Buffer.from(text);
      for (const s of sockets) s.queue.push(frame);
      sender!.queue.push(Buffer.from(`ack-${text}`));
    }
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(sender!.bytes(), 'm1ack-m1m2ack-m2m3ack-m3');
    for (const s of [a, b, c]) assert.equal(s!.bytes(), 'm1m2m3');
    // The sender's frames are its own, and the first member's are not yet known to be shared.
    assert.deepEqual([sender!.writes(), a!.writes(), b!.writes(), c!.writes()], [6, 3, 1, 1]);
    assert.deepEqual(sockets.map((s) => s.frames()), [6, 3, 3, 3]);

    // A later pass starts afresh: the same frames objects again are shared again, different ones are not.
    const again = Buffer.from('m4');
    a!.queue.push(again);
    a!.queue.push(again);
    b!.queue.push(again);
    b!.queue.push(Buffer.from('m4'));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(a!.bytes(), 'm1m2m3m4m4');
    assert.equal(b!.bytes(), 'm1m2m3m4m4');
    assert.deepEqual([a!.writes(), b!.writes()], [5, 3]);
  });

  it('gives up on a socket whose buffer passes the limit, and drops what comes after', async () => {
    const socket = new PassThrough({ highWaterMark: 16 });
    let slow = 0;
    const queue = new OutboundQueue(socket, 1000, { framesWritten: () => {}, slowReader: () => slow++ });
    for (let i = 0; i < 30; i++) queue.push(Buffer.alloc(100));
    queue.flush();
    assert.equal(slow, 1);
    assert.ok(queue.closed);
    queue.push(Buffer.alloc(100));
    queue.flush();
    assert.equal(slow, 1);
  });
});

describe('encodeFrame against ws', () => {
  it('produces frames that ws parses back to the same message, at every length class', async () => {
    const { Receiver } = (await import('ws')) as unknown as { Receiver: new (o: object) => import('node:stream').Writable & { on(e: 'message', f: (d: Buffer, isBinary: boolean) => void): void } };
    for (const size of [0, 100, 125, 126, 1000, 65_535, 65_536, 200_000]) {
      const message = { type: 'error' as const, code: 'bad_request' as const, message: '字'.repeat(Math.floor(size / 3)) + 'x'.repeat(size % 3) };
      const receiver = new Receiver({ isServer: false, maxPayload: 0 });
      const got = new Promise<string>((resolve) => receiver.on('message', (d) => resolve(d.toString())));
      receiver.write(encodeFrame(message));
      assert.deepEqual(JSON.parse(await got), message);
    }
  });
});
