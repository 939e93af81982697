/**
 * The benchmark's smoke run: `npm run bench -- --quick` runs the one-node scenarios against plain
 * ws, socket.io and Parley (scaled down), prints a table with all three servers, and its delivery
 * check (every receiver got every message exactly once, in order) passes; it runs scenarios 1 and 4
 * on one Parley node on PostgreSQL + Redis, and scenarios 5-7 on two socket.io nodes with the Redis
 * adapter and two Parley nodes on PostgreSQL + Redis (with nginx in 7, where a node is killed), from
 * the system's PostgreSQL, Redis and nginx. No timing is asserted.
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

/** The table row that starts with `| <start>`, split into trimmed cells (without the empty ends). */
function row(stdout: string, start: string): string[] {
  const line = stdout.split('\n').find((l) => l.startsWith(`| ${start}`));
  assert.ok(line, `no row starting with ${start} in:\n${stdout}`);
  return line.split('|').slice(1, -1).map((c) => c.trim());
}

test('the quick bench runs every one-node scenario against ws, socket.io and Parley and checks exactly-once delivery', { timeout: 300_000 }, async () => {
  // From the sources, so the smoke run neither needs nor rewrites dist/; --no-write keeps docs/ as it is.
  const { code, stdout, stderr } = await runBench(['--quick', '--parley=source', '--no-write', '--scenarios=1,2,3,4', '--servers=ws,socketio,parley']);
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

test('the quick bench runs one Parley node on PostgreSQL + Redis and two nodes of each against the other, and a node death', { timeout: 300_000 }, async () => {
  const several = await runBench(['--quick', '--parley=source', '--no-write', '--scenarios=5,6,7', '--servers=socketio,parley']);
  assert.equal(several.code, 0, `bench exited with ${several.code}\n${several.stderr}\n${several.stdout}`);
  const out = several.stdout;
  assert.deepEqual(row(out, 'scenario').slice(2), ['socket.io (Redis adapter)', 'Parley (PostgreSQL + Redis)', 'Parley/socket.io']);
  for (const scenario of ['5. fan-out on two nodes', '6. ']) {
    const cells = row(out, scenario);
    assert.equal(cells[1], 'delivered msgs/s');
    for (const cell of cells.slice(2, 4)) assert.match(cell, /^[\d,]+$/, `${scenario}: ${cells.join(' | ')}`);
  }
  // Each process of both deployments has its own CPU row.
  for (const name of ['node 1', 'node 2', 'PostgreSQL', 'Redis']) assert.ok(out.includes(`| of which ${name} |`), `no CPU row for ${name}`);
  for (const scenario of ['nodes-fanout', 'nodes-rooms']) {
    for (const server of ['socket.io (Redis adapter)', 'Parley (PostgreSQL + Redis)']) {
      const line = out.split('\n').find((l) => l.startsWith(`- ${scenario} · ${server}:`));
      assert.ok(line, `no delivery check for ${scenario} on ${server}`);
      assert.match(line, /exactly-once in order passed/, line);
    }
  }
  // A node's death: Parley's clients came back with every acked message once, in order; socket.io's outcome is reported.
  const clientsCut = row(out, "7. a node's death");
  assert.match(clientsCut[2]!, /^[1-9][\d,]*$/, `socket.io: no client was cut: ${clientsCut.join(' | ')}`);
  assert.match(clientsCut[3]!, /^[1-9][\d,]*$/, `Parley: no client was cut: ${clientsCut.join(' | ')}`);
  assert.match(out, /- node-death · Parley \(PostgreSQL \+ Redis\): exactly-once in order passed/);
  assert.match(out, /- node-death · socket\.io \(Redis adapter\): no delivery promised across a node's death; its clients lost \d+/);
  for (const name of ['lost', 'duplicated']) {
    const cells = out.split('\n').find((l) => l.startsWith(`|  | ${name === 'lost' ? 'acked messages lost' : 'messages duplicated'}`))!.split('|').map((c) => c.trim());
    assert.equal(cells[4], '0', `Parley ${name}: ${cells.join(' | ')}`);
  }
  assert.doesNotMatch(out, /ERROR|FAILED/);

  const pg = await runBench(['--quick', '--parley=source', '--no-write', '--scenarios=1,4', '--servers=parley-pg']);
  assert.equal(pg.code, 0, `bench exited with ${pg.code}\n${pg.stderr}\n${pg.stdout}`);
  assert.ok(pg.stdout.includes('## One node on PostgreSQL + Redis'), pg.stdout);
  for (const scenario of ['1. fan-out', '4. ']) assert.match(row(pg.stdout, scenario)[2]!, /^[\d,]+$/);
  for (const scenario of ['fanout', 'rooms']) assert.match(pg.stdout, new RegExp(`- ${scenario} · Parley \\(PostgreSQL \\+ Redis\\): exactly-once in order passed`));
  assert.doesNotMatch(pg.stdout, /ERROR|FAILED/);
});
