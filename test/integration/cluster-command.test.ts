/**
 * `npm run cluster` (scripts/cluster.ts) as a user runs it: it refuses with what to install when a
 * package is missing, refuses bad flags and a port in use, and otherwise starts a cluster, says where everything is,
 * takes `kill N` on stdin, and stops everything on SIGTERM. Nodes from the sources (--from-sources),
 * so that the test does not build.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { freePort } from '../helpers/server.js';
import { repoRoot } from './cli-helpers.js';

const command = [process.execPath, '--import', 'tsx', 'scripts/cluster.ts'];

function runToEnd(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(command[0]!, [...command.slice(1), ...args], { cwd: repoRoot, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function refused(url: string): Promise<boolean> {
  try {
    await fetch(url);
    return false;
  } catch {
    return true;
  }
}

describe('npm run cluster', () => {
  it('refuses, saying what to apt-get install, when PostgreSQL, Redis or nginx is missing, and refuses bad flags', () => {
    const missing = runToEnd([], { PG_BIN: '/nonexistent', REDIS_SERVER: '/nonexistent/redis-server', NGINX: '/nonexistent/nginx' });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /needs PostgreSQL, Redis and nginx from Debian's packages, and postgresql, redis-server, nginx are missing/);
    assert.match(missing.stderr, /^ {2}(sudo )?apt-get install postgresql redis-server nginx$/m);
    const onlyNginx = runToEnd([], { NGINX: '/nonexistent/nginx' });
    assert.equal(onlyNginx.code, 1);
    assert.match(onlyNginx.stderr, /and nginx is missing[^]*apt-get install nginx$/m);

    const bad = runToEnd(['--nodes', 'three']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^npm run cluster: --nodes="three": must be a whole number from 1 to 16$/m);
    assert.equal(runToEnd(['--port', '0']).code, 2);
    assert.match(runToEnd(['--bogus']).stderr, /Unknown option '--bogus'[^]*usage: npm run cluster/);
  });

  it('refuses a port that is in use, before starting anything', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const result = runToEnd(['--port', String(port)]);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `npm run cluster: port ${port} of 127.0.0.1 is in use: pick another with --port\n`);
    } finally {
      taken.close();
    }
  });

  it('starts the nodes behind nginx, prints where each one is, kills one on request, and stops everything on SIGTERM', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const child = spawn(command[0]!, [...command.slice(1), '--from-sources', '--nodes', '2', '--port', String(port)], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const waiters = new Set<() => void>();
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      waiters.forEach((w) => w());
    });
    const waitFor = (pattern: RegExp, what: string) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => pattern.test(l));
          if (found === undefined && child.exitCode === null) return;
          clearTimeout(timer);
          waiters.delete(check);
          if (found === undefined) reject(new Error(`exited before ${what}; stdout:\n${lines.join('\n')}\nstderr: ${stderr}`));
          else resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; stdout:\n${lines.join('\n')}\nstderr: ${stderr}`));
        }, 60_000);
        waiters.add(check);
        child.once('exit', check);
        check();
      });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor(new RegExp(`^Parley cluster ready: open ${url} `), 'the ready line');
      const nodeUrls = [1, 2].map((n) => {
        const row = lines.find((l) => new RegExp(`^ {2}node-${n} +http://127\\.0\\.0\\.1:\\d+ +pid \\d+$`).test(l));
        assert.ok(row, `node-${n} is listed with its address and pid`);
        return row.trim().split(/\s+/)[1]!;
      });
      assert.ok(lines.some((l) => /^ {2}PostgreSQL +postgres:\/\//.test(l)) && lines.some((l) => /^ {2}Redis +redis:\/\//.test(l)));
      assert.ok(lines.some((l) => /^node-1 │ .*parley listening/.test(l)), "each node's log, prefixed with its name");

      const signIn = await fetch(`${url}/api/guest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"tess"}' });
      assert.equal(signIn.status, 200, 'nginx serves the nodes');
      child.stdin.write('kill 2\n');
      await waitFor(/^node-2 killed \(SIGKILL\)/, 'node-2 killed');
      assert.ok(await refused(`${nodeUrls[1]}/healthz`), 'node-2 is gone');
      assert.equal((await fetch(`${url}/healthz`)).status, 200, 'nginx still answers, from node-1');

      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.ok(lines.some((l) => /^stopped; everything is removed$/.test(l)));
      assert.ok(await refused(`${url}/healthz`), 'nginx is stopped');
      assert.ok(await refused(`${nodeUrls[0]}/healthz`), 'node-1 is stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('stops everything when npm, which started it, is sent SIGTERM (npm does not pass it on)', { timeout: 120_000 }, async () => {
    const port = await freePort();
    // Its own process group, so that the test can tell what is left once npm alone is gone.
    const npm = spawn('npm', ['run', 'cluster', '--', '--from-sources', '--nodes', '1', '--port', String(port)], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    npm.stdout.on('data', (d) => (out += d));
    try {
      const url = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 60_000;
      while (!out.includes('Parley cluster ready')) {
        assert.ok(Date.now() < deadline && npm.exitCode === null, `the cluster did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      process.kill(npm.pid!, 'SIGTERM');
      const stopBy = Date.now() + 30_000;
      while (!(await refused(`${url}/healthz`))) {
        assert.ok(Date.now() < stopBy, 'nginx still answers 30 s after npm was sent SIGTERM');
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      // Whatever is left of the group (nothing, when it works).
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
});
