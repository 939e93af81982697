/**
 * The benchmark's smoke run: `npm run bench -- --quick` runs all four scenarios against plain ws,
 * socket.io and Parley (scaled down), prints a table with all three servers, and its delivery
 * check (every receiver got every message exactly once, in order) passes. No timing is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the quick bench runs every scenario against ws, socket.io and Parley and checks exactly-once delivery', { timeout: 300_000 }, async () => {
  // From the sources, so the smoke run neither needs nor rewrites dist/; --no-write keeps docs/ as it is.
  const { code, stdout, stderr } = await runBench(['--quick', '--parley=source', '--no-write']);
  assert.equal(code, 0, `bench exited with ${code}\n${stderr}\n${stdout}`);

  const header = stdout.split('\n').find((line) => line.startsWith('| scenario | metric |'));
  assert.ok(header, `no results table in:\n${stdout}`);
  for (const server of ['ws', 'socket.io', 'Parley', 'Parley/ws', 'Parley/socket.io']) {
    assert.ok(header.split('|').map((c) => c.trim()).includes(server), `no ${server} column in: ${header}`);
  }
  for (const scenario of ['1. fan-out', '2. latency', '3.', '4.']) {
    assert.ok(stdout.includes(`| ${scenario}`), `no row for scenario ${scenario}`);
  }
  // Every measured cell of the headline rows holds a number for each server.
  const fanoutRow = stdout.split('\n').find((line) => line.startsWith('| 1. fan-out'))!;
  const cells = fanoutRow.split('|').map((c) => c.trim());
  for (const cell of cells.slice(3, 6)) assert.match(cell, /^[\d,]+$/, `fan-out row: ${fanoutRow}`);

  for (const scenario of ['fanout', 'latency', 'rooms']) {
    for (const server of ['ws', 'socket.io', 'Parley']) {
      const line = stdout.split('\n').find((l) => l.startsWith(`- ${scenario} · ${server}:`));
      assert.ok(line, `no delivery check for ${scenario} on ${server}`);
      assert.match(line, /exactly-once in order passed/, line);
    }
  }
  assert.doesNotMatch(stdout, /ERROR|FAILED/);
});
