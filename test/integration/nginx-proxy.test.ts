/**
 * deploy/nginx.conf, tested for real: nginx in front of Parley proxies the HTTP API and the
 * WebSocket upgrade, and Parley (TRUST_PROXY=127.0.0.1) sees the client address nginx forwards;
 * a node that is down or full is skipped; and TLS ending at nginx gives a Secure cookie and wss.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChatClient, signInGuest, upgradeStatus } from '../helpers/chat-client.js';
import { makeCertificates } from '../helpers/certs.js';
import { httpsRequest } from '../helpers/https-request.js';
import { deploySite, startNginx } from '../helpers/nginx.js';
import { freePort, startTestServer, tempDataDir } from '../helpers/server.js';

describe('behind nginx with deploy/nginx.conf', () => {
  it('proxies sign-in, the chat WebSocket and the client address', async (t) => {
    const parley = await startTestServer({ TRUST_PROXY: '127.0.0.1' });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const nginx = await startNginx(deploySite({ port, upstreams: [parley.port] }), `${url}/healthz`);
    t.after(async () => {
      await nginx.stop();
      await parley.close();
    });

    const alice = await signInGuest(url, 'alice');
    const bob = await signInGuest(url, 'bob');
    // Alice comes from 127.0.0.2 with a forged X-Forwarded-For; nginx (127.0.0.1, trusted) appends
    // her real address, and Parley takes the rightmost address that is not a trusted proxy.
    const a = await ChatClient.connect(`ws://127.0.0.1:${port}`, alice.token, {
      localAddress: '127.0.0.2',
      headers: { authorization: `Bearer ${alice.token}`, 'x-forwarded-for': '198.51.100.66' },
    });
    const b = await ChatClient.connect(`ws://127.0.0.1:${port}`, bob.token);
    assert.equal((a.frames[0]!.conn as { ip: string }).ip, '127.0.0.2');
    for (const c of [a, b]) {
      c.send({ type: 'join', room: 'lobby' });
      await c.next('list');
    }
    a.send({ type: 'chat', room: 'lobby', data: 'through nginx', cid: 'n1' });
    assert.equal((await b.next('chat')).data, 'through nginx');
    assert.equal((await a.next('ack')).cid, 'n1');
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws/chat`), 401, 'refusals pass through the proxy');
    // A browser on the proxy's origin may open the chat; one on another origin may not, even when
    // it names that origin's host in X-Forwarded-Host itself (nginx sets the header).
    const headers = { authorization: `Bearer ${alice.token}` };
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws/chat`, { headers, origin: url }), 101, 'same origin through the proxy');
    const forged = { headers: { ...headers, 'x-forwarded-host': 'evil.example' }, origin: 'http://evil.example' };
    assert.equal(await upgradeStatus(`ws://127.0.0.1:${port}/ws/chat`, forged), 403, 'a forged X-Forwarded-Host');
    await a.close();
    await b.close();
  });

  it('passes a request or an upgrade meant for a node that is down or full to another node', async (t) => {
    // Two nodes on one database (one SQLite dir, each with its own store thread): a token from one is good on both.
    const dataDir = tempDataDir();
    const full = await startTestServer({ DATA_DIR: dataDir, TRUST_PROXY: '127.0.0.1', MAX_CONNECTIONS: '1' });
    const other = await startTestServer({ DATA_DIR: dataDir, TRUST_PROXY: '127.0.0.1' });
    const down = await freePort();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const nginx = await startNginx(deploySite({ port, upstreams: [full.port, down, other.port] }), `${url}/healthz`);
    t.after(async () => {
      await nginx.stop();
      await full.close();
      await other.close();
    });
    const { token } = await signInGuest(other.url, 'dora');
    // The full node answers an upgrade with 503 (MAX_CONNECTIONS), the node that is down refuses the connection.
    const held = await ChatClient.connect(full.wsUrl, token);
    assert.equal(await upgradeStatus(`${full.wsUrl}/ws/chat`, { headers: { authorization: `Bearer ${token}` } }), 503);
    // Round robin over three nodes: three upgrades in a row try each node once, the full one included.
    const upgrades: number[] = [];
    for (let i = 0; i < 6; i++) upgrades.push(await upgradeStatus(`ws://127.0.0.1:${port}/ws/chat`, { headers: { authorization: `Bearer ${token}` } }));
    assert.deepEqual(upgrades, Array(6).fill(101), 'every upgrade reached a node that could take it');
    const requests: number[] = [];
    for (let i = 0; i < 6; i++) requests.push((await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status);
    assert.deepEqual(requests, Array(6).fill(200), 'every request reached a node that is up');
    await held.close();
  });

  it('ends TLS: HTTPS sign-in with a Secure cookie, and chat over wss', async (t) => {
    const certs = makeCertificates();
    const parley = await startTestServer({ TRUST_PROXY: '127.0.0.1' });
    const [port, tlsPort] = [await freePort(), await freePort()];
    const tls = { port: tlsPort, cert: certs.certFile, key: certs.keyFile };
    const nginx = await startNginx(deploySite({ port, upstreams: [parley.port], tls }), `http://127.0.0.1:${port}/healthz`);
    t.after(async () => {
      await nginx.stop();
      await parley.close();
      certs.remove();
    });
    const origin = `https://127.0.0.1:${tlsPort}`;
    const signIn = await httpsRequest(`${origin}/api/guest`, { ca: certs.ca, json: { name: 'erin' } });
    assert.equal(signIn.status, 200);
    const cookie = String(signIn.headers['set-cookie']);
    assert.match(cookie, /;\s*Secure/i, 'the node learns from X-Forwarded-Proto that the browser speaks TLS');
    const plain = await fetch(`http://127.0.0.1:${port}/api/guest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'frank' }),
    });
    assert.doesNotMatch(String(plain.headers.get('set-cookie')), /;\s*Secure/i, 'over plain HTTP the cookie is not Secure');

    const { token } = JSON.parse(signIn.body) as { token: string };
    const headers = { authorization: `Bearer ${token}` };
    const erin = await ChatClient.connect(`wss://127.0.0.1:${tlsPort}`, token, { ca: certs.ca, origin });
    erin.send({ type: 'join', room: 'lobby' });
    await erin.next('list');
    erin.send({ type: 'chat', room: 'lobby', data: 'over wss', cid: 'w1' });
    assert.equal((await erin.next('chat')).data, 'over wss');
    // The page's origin is https://…: the same page origin on plain http is another origin.
    assert.equal(await upgradeStatus(`wss://127.0.0.1:${tlsPort}/ws/chat`, { ca: certs.ca, headers, origin: `http://127.0.0.1:${tlsPort}` }), 403);
    await erin.close();
  });
});
