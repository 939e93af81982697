/**
 * What `parley serve` prints: on a terminal, one line that says where to open it, and pretty logs
 * (JSON with LOG_FORMAT=json); anywhere else (a pipe, journald) JSON lines only.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { freePort, tempDataDir } from '../helpers/server.js';
import { Terminal, cliArgs, hasTmux, repoRoot } from './cli-helpers.js';

const serve = (port: number, dataDir: string) => [...cliArgs, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir];

describe('parley serve on a terminal', { skip: hasTmux ? false : 'tmux is not installed (scripts/test.sh installs it)' }, () => {
  for (const format of ['unset', 'json'] as const) {
    it(`says where to open it, where the data is and whether guests get in, with ${format === 'json' ? 'JSON logs (LOG_FORMAT=json)' : 'pretty logs by default'}`, async () => {
      const port = await freePort();
      const dataDir = tempDataDir();
      const env = format === 'json' ? ['LOG_FORMAT=json'] : [];
      const term = new Terminal(['env', ...env, process.execPath, ...serve(port, dataDir)], { width: 250 });
      try {
        await term.waitFor(/Parley is ready/, 'the ready line');
        const screen = term.screen();
        assert.match(screen, new RegExp(`^Parley is ready: open http://127\\.0\\.0\\.1:${port} \\(data in ${dataDir}; guest sign-in on\\)$`, 'm'));
        if (format === 'json') assert.match(screen, /^\{"level":30,.*"msg":"parley listening"\}$/m);
        else {
          assert.match(screen, /^\[\d\d:\d\d:\d\d\] INFO: parley listening \{"node":"[^"]+","url":"http:\/\/127\.0\.0\.1:\d+"/m);
          assert.doesNotMatch(screen, /\{"level"/);
        }
        term.keys('C-c');
        await term.waitExit('the server after Ctrl-C');
      } finally {
        term.close();
      }
    });
  }
});

describe('parley serve with its output piped', () => {
  it('writes JSON lines only, and no ready line', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, serve(port, tempDataDir()), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      let status = 0;
      for (let i = 0; i < 200 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.ok(lines.some((l) => l.includes('"msg":"parley listening"')), lines.join('\n'));
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `a JSON line: ${line}`);
  });
});
