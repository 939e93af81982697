/**
 * deploy/nginx.conf, tested for real: nginx in front of Parley proxies the HTTP API and the
 * WebSocket upgrade, and Parley (TRUST_PROXY=127.0.0.1) sees the client address nginx forwards.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChatClient, signInGuest, upgradeStatus } from '../helpers/chat-client.js';
import { freePort, startTestServer, tempDataDir } from '../helpers/server.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => spawnSync(p, ['-v']).status === 0);

describe('behind nginx with deploy/nginx.conf', () => {
  it('proxies sign-in, the chat WebSocket and the client address', async (t) => {
    assert.ok(NGINX, 'nginx is installed (scripts/test.sh installs it)');
    const parley = await startTestServer({ TRUST_PROXY: '127.0.0.1' });
    const port = await freePort();
    const prefix = tempDataDir();
    mkdirSync(join(prefix, 'logs'));
    const site = readFileSync(new URL('../../deploy/nginx.conf', import.meta.url), 'utf8')
      .replace('server 127.0.0.1:3000;', `server 127.0.0.1:${parley.port};`)
      .replace('listen 80;', `listen 127.0.0.1:${port};`);
    assert.ok(site.includes(`listen 127.0.0.1:${port};`) && site.includes(`127.0.0.1:${parley.port}`));
    writeFileSync(
      join(prefix, 'nginx.conf'),
      `worker_processes 1;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/logs/error.log warn;\n` +
        `events { worker_connections 256; }\n` +
        `http {\n access_log off;\n client_body_temp_path ${prefix}/body;\n proxy_temp_path ${prefix}/proxy;\n` +
        ` fastcgi_temp_path ${prefix}/fastcgi;\n uwsgi_temp_path ${prefix}/uwsgi;\n scgi_temp_path ${prefix}/scgi;\n` +
        `${site}\n}\n`,
    );
    const nginx = spawn(NGINX!, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'inherit' });
    t.after(async () => {
      nginx.kill('SIGQUIT');
      await parley.close();
    });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).status === 200) break;
      } catch {
        // nginx not listening yet
      }
      assert.ok(i < 100, 'nginx answers within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }

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
});
