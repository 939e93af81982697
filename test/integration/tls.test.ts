/**
 * TLS at Parley itself (TLS_CERT, TLS_KEY), for real: a CA and a server certificate for 127.0.0.1
 * and localhost made with openssl (test/helpers/certs.ts), HTTPS and WSS served on the one port,
 * the session cookie Secure, and `parley chat wss://…` trusting the CA through NODE_EXTRA_CA_CERTS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ChatClient, upgradeStatus } from '../helpers/chat-client.js';
import { makeCertificates, type TestCertificates } from '../helpers/certs.js';
import { httpsRequest } from '../helpers/https-request.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { JsonChat, runCli } from './cli-helpers.js';

let certs: TestCertificates;
let server: TestServer;
let https: string;
let wss: string;

before(async () => {
  certs = makeCertificates();
  server = await startTestServer({ TLS_CERT: certs.certFile, TLS_KEY: certs.keyFile });
  https = `https://127.0.0.1:${server.port}`;
  wss = `wss://127.0.0.1:${server.port}`;
});

after(async () => {
  await server?.close();
  certs?.remove();
});

/** Signs in as a guest over HTTPS; resolves the token and the Set-Cookie header. */
async function guest(name: string): Promise<{ token: string; cookie: string }> {
  const res = await httpsRequest(`${https}/api/guest`, { ca: certs.ca, json: { name } });
  assert.equal(res.status, 200, res.body);
  return { token: (JSON.parse(res.body) as { token: string }).token, cookie: String(res.headers['set-cookie']) };
}

describe('TLS at Parley itself', () => {
  it('serves the API over https only, and signs in with a Secure cookie', async () => {
    assert.equal((await httpsRequest(`${https}/healthz`, { ca: certs.ca })).status, 200);
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/healthz`), 'no plain HTTP on the TLS port');
    await assert.rejects(httpsRequest(`${https}/healthz`, {}), /certificate/, 'a client that does not trust the CA is refused');

    const { cookie } = await guest('ann');
    assert.match(cookie, /;\s*Secure/i);
    assert.match(cookie, /;\s*HttpOnly/i);
    const session = cookie.split(';')[0]!;
    const me = await httpsRequest(`${https}/api/me`, { ca: certs.ca, headers: { cookie: session } });
    assert.equal(me.status, 200);
    assert.equal((JSON.parse(me.body) as { user: { name: string } }).user.name, 'ann', 'the cookie is the session');
  });

  it('serves the chat and the echo over wss', async () => {
    const { token, cookie } = await guest('bea');
    const bea = await ChatClient.connect(wss, token, { ca: certs.ca });
    bea.send({ type: 'join', room: 'lobby' });
    await bea.next('list');
    bea.send({ type: 'chat', room: 'lobby', data: 'over wss', cid: 'c1' });
    assert.equal((await bea.next('chat')).data, 'over wss');
    assert.equal((await bea.next('ack')).cid, 'c1');
    await bea.close();
    // A browser: the cookie, and its page's origin, which is https here.
    const browser = { ca: certs.ca, headers: { cookie: cookie.split(';')[0]! } };
    assert.equal(await upgradeStatus(`${wss}/ws/chat`, { ...browser, origin: https }), 101);
    assert.equal(await upgradeStatus(`${wss}/ws/chat`, { ...browser, origin: `http://127.0.0.1:${server.port}` }), 403);

    const echo = new WebSocket(`${wss}/ws/echo`, { ca: certs.ca });
    const replies: { data: string; binary: boolean }[] = [];
    const two = new Promise<void>((resolve) =>
      echo.on('message', (data, binary) => {
        replies.push({ data: data.toString(), binary });
        if (replies.length === 2) resolve();
      }),
    );
    await new Promise((resolve, reject) => echo.once('open', resolve).once('error', reject));
    echo.send('hello');
    echo.send(Buffer.from('bytes'));
    await two;
    assert.deepEqual(replies, [
      { data: 'ECHO: hello', binary: false },
      { data: 'bytes', binary: true },
    ]);
    echo.close();
  });

  it('lets parley chat wss://… in with the CA in NODE_EXTRA_CA_CERTS, and not without', async () => {
    const { token } = await guest('cleo');
    const cleo = await ChatClient.connect(wss, token, { ca: certs.ca });
    cleo.send({ type: 'join', room: 'lobby' });
    await cleo.next('list');

    const cli = new JsonChat([wss, '--name', 'dev'], { NODE_EXTRA_CA_CERTS: certs.caFile });
    try {
      await cli.waitFor((e) => e.type === 'list', 'the CLI to join the lobby');
      cli.send('hello from the terminal, over wss');
      const got = await cleo.next('chat', (f) => f.data === 'hello from the terminal, over wss');
      assert.equal((got.user as { name: string }).name, 'dev');
      cleo.send({ type: 'chat', room: 'lobby', data: 'and back', cid: 'b1' });
      await cli.waitFor((e) => e.type === 'chat' && e.data === 'and back', 'the reply in the CLI');
      assert.equal(await cli.end(), 0);
    } finally {
      cli.kill();
      await cleo.close();
    }

    const untrusted = await runCli(['chat', wss, '--name', 'eve'], '', 30_000, { NODE_EXTRA_CA_CERTS: '' });
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /^parley chat: cannot reach https:\/\/127\.0\.0\.1:\d+: the TLS certificate cannot be verified$/m);
  });
});
