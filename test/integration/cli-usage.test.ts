/** `parley` as a user meets it: help, echo, and one clear line for every mistake. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startTestServer, tempDataDir, type TestServer } from '../helpers/server.js';
import { runCli } from './cli-helpers.js';

/** One line on stderr and no stack trace. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

describe('parley echo', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('sends each text to /ws/echo, prints each reply and exits 0', async () => {
    const r = await runCli(['echo', server.url, 'Hello!', 'two words']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ECHO: Hello!\nECHO: two words\n');
  });

  it('says why when the server closes on a text larger than it takes', async () => {
    const r = await runCli(['echo', server.url, 'fits', 'y'.repeat(70_000)]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'ECHO: fits\n');
    assertOneLine(r.stderr, /closed the connection before every reply came: a message was larger than the server's MAX_PAYLOAD \(close code 1009\)/);
  });

  it('sends stdin lines when no text is given, also with a ws:// URL', async () => {
    const r = await runCli(['echo', server.wsUrl], 'first\nsecond\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'ECHO: first\nECHO: second\n');
  });
});

describe('parley help and mistakes', () => {
  it('prints help for itself and each command', async () => {
    for (const args of [['--help'], ['chat', '--help'], ['echo', '--help'], ['serve', '--help']]) {
      const r = await runCli(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /Usage/, args.join(' '));
    }
    const r = await runCli(['--help']);
    for (const command of ['serve', 'chat', 'echo']) assert.match(r.stdout, new RegExp(`parley ${command}`));
  });

  it('answers a wrong flag, a missing or bad URL with one line and exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['chat', 'http://127.0.0.1:3000', '--name', 'a', '--bogus'], /^parley chat: unknown option --bogus/],
      [['chat'], /^parley chat: missing URL/],
      [['chat', 'not a url', '--name', 'a'], /^parley chat: not a URL/],
      [['chat', 'ftp://example.com', '--name', 'a'], /unsupported URL scheme/],
      [['chat', 'http://127.0.0.1:3000'], /--name NAME .* or --token/],
      [['chat', 'http://127.0.0.1:3000', '--name', 'a', '--token', 't'], /either --name or --token/],
      [['chat', 'http://127.0.0.1:3000', '--name'], /argument missing/],
      [['echo'], /^parley echo: missing URL/],
      [['echo', 'http://127.0.0.1:3000', '--timeout', 'soon'], /--timeout/],
      [['frobnicate'], /^parley frobnicate: unknown command/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')} exits 2`);
      assertOneLine(r.stderr, pattern);
    }
  });

  it('refuses a data folder it cannot make with one line and exit 2, never hanging', async () => {
    const dir = tempDataDir();
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const cases: Array<[string, RegExp]> = [[file, /cannot use DATA_DIR .*a-file: .* is a file, not a folder/]];
    // procfs answers ENOENT under an existing parent, on which Node's own recursive mkdir loops forever.
    if (existsSync('/proc/self')) cases.push(['/proc/parley-test/data', /cannot use DATA_DIR \/proc\/parley-test\/data: ENOENT/]);
    for (const [dataDir, pattern] of cases) {
      const r = await runCli(['serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0'], '', 15_000);
      assert.equal(r.code, 2, `${dataDir}: ${r.stderr}`);
      assertOneLine(r.stderr, pattern);
    }
  });

  it('refuses a HOST or a TLS file it cannot use with one line naming the setting, exit 2', async () => {
    const dir = tempDataDir();
    after(() => rmSync(dir, { recursive: true, force: true }));
    const pem = (name: string, args: string[]) => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', ...args], { stdio: 'ignore' });
      return join(dir, name);
    };
    const cert = pem('a.crt', ['-keyout', join(dir, 'a.key'), '-out', join(dir, 'a.crt')]);
    pem('b.crt', ['-keyout', join(dir, 'b.key'), '-out', join(dir, 'b.crt')]);
    const otherKey = join(dir, 'b.key');
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate');
    const serve = ['serve', '--data-dir', join(dir, 'data'), '--port', '0'];
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [serve, { HOST: 'not-a-host' }, /^parley serve: HOST=not-a-host: no such address on this machine/],
      [[...serve, '--host', '192.0.2.1'], {}, /^parley serve: --host=192\.0\.2\.1: no such address on this machine$/],
      [[...serve, '--host', '127.0.0.1'], { TLS_CERT: '/nonexistent', TLS_KEY: otherKey }, /^parley serve: TLS_CERT=\/nonexistent: no such file$/],
      [[...serve, '--host', '127.0.0.1', '--tls-cert', dir, '--tls-key', otherKey], {}, /^parley serve: --tls-cert=.*: a folder, not a file$/],
      [[...serve, '--host', '127.0.0.1'], { TLS_CERT: garbage, TLS_KEY: otherKey }, /^parley serve: TLS_CERT=.*garbage\.pem: not a PEM certificate$/],
      [[...serve, '--host', '127.0.0.1'], { TLS_CERT: cert, TLS_KEY: garbage }, /^parley serve: TLS_KEY=.*garbage\.pem: not a PEM private key/],
      [[...serve, '--host', '127.0.0.1'], { TLS_CERT: cert, TLS_KEY: otherKey }, /^parley serve: TLS_KEY=.*b\.key: not the private key of the certificate in TLS_CERT/],
    ];
    for (const [args, env, pattern] of cases) {
      const r = await runCli(args, '', 15_000, { LOG_LEVEL: 'silent', ...env });
      assert.equal(r.code, 2, `${JSON.stringify(env)} ${args.join(' ')}: ${r.stderr}`);
      assertOneLine(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /ENOENT|ENOTFOUND|EADDRNOTAVAIL|getaddrinfo|routines/);
    }
  });

  it('answers a refused connection with one line and exit 1', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    for (const args of [
      ['chat', url, '--name', 'ann'],
      ['chat', url, '--token', 'whatever'],
      ['echo', url, 'hi'],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 1, `${args.join(' ')} exits 1`);
      assertOneLine(r.stderr, /connection refused|ECONNREFUSED/);
    }
  });

  it('answers a session the server does not accept with one line and exit 1', async () => {
    const server = await startTestServer();
    try {
      const r = await runCli(['chat', server.url, '--token', 'forged']);
      assert.equal(r.code, 1);
      assertOneLine(r.stderr, /unauthorized/);
      const echo404 = await runCli(['echo', `${server.url}/elsewhere`, 'hi']);
      assert.equal(echo404.code, 1);
      assertOneLine(echo404.stderr, /404/);
    } finally {
      await server.close();
    }
  });
});

describe('parley with no command', () => {
  it('runs the server, which stops with exit 0 on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: tempDataDir(), LOG_LEVEL: 'warn' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let status = 0;
      for (let i = 0; i < 200 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, 'the server answers /readyz');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });
});
