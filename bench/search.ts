/**
 * Search latency over a large store: N messages (default 1,000,000) of mixed English, Chinese and
 * emoji text over 500 rooms (a tenth of them private), stored the way the hub stores them (batches
 * of 2,000), then typical queries, each run several times: the median and the slowest reported,
 * with the number of results of the first page. SQLite indexes in the background: the bench times
 * indexing everything, then the queries on the indexed store, then the same with the newest 20,000
 * messages not indexed yet (what a search reads itself while writes go on). With --postgres, the
 * same on a throw-away PostgreSQL (test/helpers/postgres.ts).
 *
 *   node --import tsx bench/search.ts [--messages=N] [--runs=N] [--postgres] [--no-sqlite]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { NewMessage, SearchQuery, Store, User } from '../src/store/types.js';
import { startPostgres } from '../test/helpers/postgres.js';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const flag = (name: string) => process.argv.includes(`--${name}`);
const MESSAGES = Number(arg('messages') ?? 1_000_000);
const RUNS = Number(arg('runs') ?? 5);
const ROOMS = 500;
const BATCH = 2000;
/** Messages left unindexed for the last round of SQLite queries. */
const TAIL = 20_000;

const WORDS = (
  'the a to and of in is it you that for on we this be are with have not can do at just so what ' +
  'hello thanks meeting tomorrow today deploy build release review merge branch server client ' +
  'database coffee lunch weekend project deadline report quarterly budget design ticket issue ' +
  'ok yes no please sorry great idea maybe later done fixed broken urgent question answer'
).split(' ');
const CHINESE = '你好 大家 今天 天气 很好 我们 开会 明天 吃饭 工作 项目 问题 时间 谢谢 朋友 学习 中国 北京 上海 电脑 会议 已经 开始 没有 可以 周末 报告 预算'.split(' ');
const EMOJI = ['🎉', '👍', '😀', '🚀', '❤️', '👍🏽', '👩‍💻', '🙏', '😂', '🔥'];

/** A small seeded generator (mulberry32), so every run stores the same messages. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function text(rnd: () => number, i: number): string {
  const pick = <T>(list: T[]) => list[Math.floor(rnd() * list.length)]!;
  const words: string[] = [];
  const n = 3 + Math.floor(rnd() * 12);
  const chinese = rnd() < 0.4;
  for (let k = 0; k < n; k++) {
    const r = rnd();
    words.push(r < 0.08 ? pick(EMOJI) : chinese && r < 0.85 ? pick(CHINESE) : pick(WORDS));
  }
  // A rare word, so some queries find one message in a thousand, or one in all.
  if (i % 1000 === 7) words.push(`zebra${i % 7}`);
  if (i === 123_456 % MESSAGES) words.push('xylophone');
  return words.join(chinese ? (rnd() < 0.5 ? '' : '，') : ' ');
}

/** Typical queries: common and rare words, short and long, Chinese of 1-4 characters, emoji, several terms. */
const QUERIES: Array<{ q: string; room?: boolean }> = [
  { q: 'hello' },
  { q: 'meeting tomorrow' },
  { q: 'deploy' },
  { q: 'quarterly report' },
  { q: 'ok' },
  { q: 'zebra3' },
  { q: 'xylophone' },
  { q: '你好' },
  { q: '好' },
  { q: '大家' },
  { q: '开会时间' },
  { q: '🎉' },
  { q: '👍🏽' },
  { q: '项目 deadline' },
  { q: 'nothing-matches-this' },
  { q: 'hello', room: true },
  { q: '你好', room: true },
];

async function fill(store: Store): Promise<{ reader: User; member: User }> {
  const writer = await store.createUser({ name: 'writer', passwordHash: null, guest: true });
  const reader = await store.createUser({ name: 'reader', passwordHash: null, guest: true });
  const member = await store.createUser({ name: 'member', passwordHash: null, guest: true });
  for (let r = 0; r < ROOMS; r++) {
    const priv = r % 10 === 9;
    await store.createRoom({ name: `room-${r}`, private: priv, createdBy: priv ? writer.id : null });
    if (priv && r % 20 === 19) await store.addMember(`room-${r}`, member.id);
  }
  const rnd = random(42);
  const start = performance.now();
  let ts = Date.now() - MESSAGES;
  for (let at = 0; at < MESSAGES; at += BATCH) {
    const batch: NewMessage[] = [];
    for (let i = at; i < Math.min(MESSAGES, at + BATCH); i++) {
      // About three messages per millisecond: times are shared, as under load.
      if (rnd() < 0.3) ts++;
      batch.push({ room: `room-${Math.floor(rnd() * ROOMS)}`, user: { id: writer.id, name: writer.name }, data: text(rnd, i), ts });
    }
    await store.appendMessages(batch);
  }
  const seconds = (performance.now() - start) / 1000;
  console.log(`stored ${MESSAGES.toLocaleString('en')} messages in ${seconds.toFixed(1)} s (${Math.round(MESSAGES / seconds).toLocaleString('en')}/s)`);
  return { reader, member };
}

async function queries(store: Store, label: string, reader: User, member: User): Promise<void> {
  console.log(`\n${label}\n\n| query | results (first page) | median ms | slowest ms | next page ms |\n|---|---:|---:|---:|---:|`);
  const medians: number[] = [];
  for (const { q, room } of QUERIES) {
    const query: SearchQuery = { userId: room ? member.id : reader.id, q, limit: 20, ...(room ? { room: 'room-19' } : {}) };
    const times: number[] = [];
    let count = 0;
    let more = false;
    let last = 0;
    for (let run = 0; run < RUNS; run++) {
      const t = performance.now();
      const page = await store.search(query);
      times.push(performance.now() - t);
      count = page.data.length;
      more = page.more;
      last = page.data.at(-1)?.ts ?? 0;
    }
    let next = '';
    if (more) {
      const t = performance.now();
      await store.search({ ...query, before: last });
      next = (performance.now() - t).toFixed(1);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    medians.push(median);
    console.log(`| \`${q}\`${room ? ' in room-19' : ''} | ${count}${more ? '+' : ''} | ${median.toFixed(1)} | ${times.at(-1)!.toFixed(1)} | ${next} |`);
  }
  medians.sort((a, b) => a - b);
  console.log(`\nmedian of the medians ${medians[Math.floor(medians.length / 2)]!.toFixed(1)} ms, slowest median ${medians.at(-1)!.toFixed(1)} ms`);
}

if (!flag('no-sqlite')) {
  const dir = await mkdtemp(join(tmpdir(), 'parley-bench-search-'));
  try {
    // The bench indexes when it says so, not when writes pause.
    const store = await SqliteStore.open(join(dir, 'parley.db'), { searchIndexDelayMs: 3_600_000 });
    const { reader, member } = await fill(store);
    const t = performance.now();
    const indexed = store.indexForSearch();
    const seconds = (performance.now() - t) / 1000;
    console.log(`SQLite: indexed ${indexed.toLocaleString('en')} messages in ${seconds.toFixed(1)} s (${((seconds * 1e6) / indexed).toFixed(1)} µs each, on the store thread when writes pause)`);
    await queries(store, `SQLite, ${MESSAGES.toLocaleString('en')} messages, all indexed`, reader, member);
    const writer = { id: 1, name: 'writer' };
    const rnd = random(7);
    for (let at = 0; at < TAIL; at += BATCH) {
      await store.appendMessages(
        Array.from({ length: BATCH }, (_, i) => ({ room: `room-${Math.floor(rnd() * ROOMS)}`, user: writer, data: text(rnd, at + i), ts: Date.now() })),
      );
    }
    await queries(store, `SQLite, the same with the newest ${TAIL.toLocaleString('en')} not indexed yet`, reader, member);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (flag('postgres')) {
  const pg = await startPostgres({ fsync: false });
  try {
    const db = await pg.createDatabase();
    const store = await PostgresStore.open(db.url);
    const { reader, member } = await fill(store);
    const client = new (await import('pg')).default.Client({ connectionString: db.url });
    await client.connect();
    await client.query('VACUUM ANALYZE messages');
    await client.end();
    await queries(store, `PostgreSQL, ${MESSAGES.toLocaleString('en')} messages`, reader, member);
    await store.close();
  } finally {
    await pg.close();
  }
}
