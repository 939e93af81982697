import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { RawWs } from '../../bench/load/raw-ws.js';

/** Texts whose frames need each of the three length encodings, and multi-byte characters. */
const TEXTS = ['hi', 'é'.repeat(62) + 'x', 'a'.repeat(126), '字😀'.repeat(30), 'b'.repeat(65_535), 'c'.repeat(65_536), '🙂'.repeat(20_000)];

async function withServer(fn: (port: number, accepted: Promise<WebSocket>) => Promise<void>): Promise<void> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  try {
    await fn((wss.address() as AddressInfo).port, accepted);
  } finally {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

describe("the load generator's WebSocket client", () => {
  it('sends several texts in one write that a standard server reads back exactly', { timeout: 10_000 }, async () => {
    await withServer(async (port, accepted) => {
      const client = new RawWs({ host: '127.0.0.1', port, path: '/' }, () => {});
      try {
        await client.ready;
        const server = await accepted;
        const got: string[] = [];
        const all = new Promise<void>((resolve, reject) => {
          server.on('message', (data, isBinary) => {
            assert.equal(isBinary, false);
            got.push(data.toString());
            if (got.length === TEXTS.length + 1) resolve();
          });
          // A malformed frame makes ws report an error and close.
          server.on('error', reject);
          server.on('close', () => reject(new Error(`the server closed after ${got.length} texts`)));
        });
        client.sendMany(TEXTS);
        client.send('one more');
        await all;
        assert.deepEqual(got, [...TEXTS, 'one more']);
      } finally {
        client.close();
      }
    });
  });

  it('hands each text frame of the server to its callback whole, however the reads split them', { timeout: 10_000 }, async () => {
    await withServer(async (port, accepted) => {
      const got: string[] = [];
      let done!: () => void;
      let fail!: (err: Error) => void;
      const all = new Promise<void>((resolve, reject) => {
        done = resolve;
        fail = reject;
      });
      const client = new RawWs({ host: '127.0.0.1', port, path: '/' }, (buf, start, end) => {
        got.push(buf.toString('utf8', start, end));
        if (got.length === TEXTS.length) done();
      });
      client.onClose = () => fail(new Error(`the connection closed after ${got.length} frames`));
      try {
        await client.ready;
        const server = await accepted;
        for (const text of TEXTS) server.send(text);
        await all;
        assert.deepEqual(got, TEXTS);
        assert.equal(client.textFrames, TEXTS.length);
      } finally {
        client.close();
      }
    });
  });
});
