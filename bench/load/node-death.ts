/**
 * Scenario 7, a node's death: `clients` clients connect through nginx (which spreads them over the
 * nodes) and join rooms of `roomSize`; the first `publishersPerRoom` members of each room publish
 * `rate` messages a second each. After `warmupMs` the load SIGKILLs node 2. The clients whose
 * connection that cut are the dead node's clients. For each, it measures the time from the kill
 * until it is connected again (to the other node, through nginx) and until it also has every
 * message of its room that had been acked when it was connected again ("back and caught up").
 * Messages keep flowing meanwhile and `afterMs` longer; then the publishers stop and the load waits
 * for the last acks and deliveries. Every client's stream is then checked: each acked message
 * received once (lost and duplicated are counted over all clients), and for Parley every client's
 * ids in order without a gap.
 *
 * The clients are what an application would use, not the load's raw sockets:
 * - Parley: the SDK's ParleyClient (src/client) with its defaults: reconnect with backoff, rejoin
 *   with `join {room, after, at}`, drop what it already delivered, and send again what was not
 *   acked with the same `cid`.
 * - socket.io: socket.io-client 4 with its defaults (reconnect with backoff), one Manager per client
 *   (`forceNew`), the WebSocket transport, the join emitted again on every `connect` (a new session
 *   has no rooms), and its at-least-once sending (`retries`, `ackTimeout`): an emit not acked in time
 *   is sent again. The server has connection-state recovery on; `recovered` counts the reconnects
 *   it restored.
 */
import { io, type Socket } from 'socket.io-client';
import { ParleyClient } from '../../src/client/index.js';
import { runPool, signInGuest } from './client.js';
import { postJson } from './http.js';
import { payload, processMetrics, sleep, waitUntil } from './common.js';
import { monotonicUs, processCpuMeter, selfCpuMeter } from '../proc.js';
import { percentile } from '../stats.js';
import type { DeliveryCheck, JobTarget, NodeDeathParams, ScenarioResult } from '../types.js';

/** socket.io-client's at-least-once sending: an emit not acked within this time is sent again, this many times. */
const SOCKETIO_RETRIES = 3;
const SOCKETIO_ACK_TIMEOUT_MS = 5000;

/** One chat client of either kind, as the scenario drives it. */
interface Chat {
  /** resolves once the client is connected and in its room */
  start(): Promise<void>;
  /** resolves when the server acks the message (Parley: with its id) */
  send(text: string): Promise<number | undefined>;
  close(): void;
  onMessage: (data: string, id: number | undefined) => void;
  /** its connection went away */
  onDown: () => void;
  /** it is connected again (Parley: welcomed, the rejoin sent; socket.io: `connect`) */
  onUp: (recovered: boolean) => void;
}

function parleyChat(url: string, token: string, room: string): Chat {
  const client = new ParleyClient({ url, token });
  const chat: Chat = {
    start: () =>
      new Promise<void>((resolve, reject) => {
        client.on('list', (e) => e.room === room && resolve());
        client.on('error', (e) => e.room === room && reject(new Error(`join ${room}: ${e.code} ${e.message}`)));
        client.join(room);
        client.connect();
      }),
    send: (text) => client.send(room, text).then((ack) => ack.id),
    close: () => client.close(),
    onMessage: () => {},
    onDown: () => {},
    onUp: () => {},
  };
  client.on('chat', (m) => chat.onMessage(m.data, m.id));
  client.on('state', (s) => {
    if (s.state === 'reconnecting') chat.onDown();
    else if (s.state === 'open') chat.onUp(false);
  });
  return chat;
}

function socketioChat(url: string, token: string, room: string): Chat {
  const socket: Socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    auth: { token },
    retries: SOCKETIO_RETRIES,
    ackTimeout: SOCKETIO_ACK_TIMEOUT_MS,
    autoConnect: false,
  });
  let joined: (() => void) | undefined;
  let connects = 0;
  const chat: Chat = {
    start: () =>
      new Promise<void>((resolve, reject) => {
        joined = resolve;
        socket.once('connect_error', (err) => reject(new Error(`socket.io connect: ${err.message}`)));
        socket.connect();
      }),
    send: (text) =>
      new Promise<number | undefined>((resolve, reject) => {
        socket.emit('chat', { room, data: text }, (err: Error | null) => (err ? reject(err) : resolve(undefined)));
      }),
    close: () => void socket.disconnect(),
    onMessage: () => {},
    onDown: () => {},
    onUp: () => {},
  };
  socket.on('connect', () => {
    // A new session is in no room: join again, as an application does (a recovered one kept its rooms).
    if (!socket.recovered) socket.emit('join', room);
    if (connects++ > 0) chat.onUp(socket.recovered);
  });
  socket.on('disconnect', () => chat.onDown());
  socket.on('list', (e: { room?: string }) => {
    if (e.room === room) joined?.();
  });
  socket.on('chat', (m: { data: string; id: number }) => chat.onMessage(m.data, undefined));
  return chat;
}

/** A message as the load wrote it: its publisher's slot in the room and that publisher's seq. */
interface Sent {
  slot: number;
  seq: number;
}

/** What happened to one client. */
class Member {
  /** received[slot][seq]: how many times that message arrived */
  readonly received: number[][] = [];
  deliveries = 0;
  lastId = 0;
  idErrors = 0;
  /** after the kill: when its connection went away, came back, and it had caught up */
  downAt: number | undefined;
  upAt: number | undefined;
  caughtAt: number | undefined;
  /** how many of the room's acked messages it had to have when it came back, and how far it has them */
  #target = 0;
  #scan = 0;

  constructor(
    readonly chat: Chat,
    readonly room: Room,
  ) {}

  receive(slot: number, seq: number, id: number | undefined): void {
    this.deliveries++;
    const counts = (this.received[slot] ??= []);
    counts[seq] = (counts[seq] ?? 0) + 1;
    if (id !== undefined) {
      if (id !== this.lastId + 1) this.idErrors++;
      this.lastId = Math.max(this.lastId, id);
    }
    this.#checkCaughtUp();
  }

  /** Back: it must have everything the room had acked by now. */
  up(now: number): void {
    this.upAt = now;
    this.caughtAt = undefined;
    this.#target = this.room.acked.length;
    this.#scan = 0;
    this.#checkCaughtUp();
  }

  has(m: Sent): boolean {
    return (this.received[m.slot]?.[m.seq] ?? 0) > 0;
  }

  #checkCaughtUp(): void {
    if (this.upAt === undefined || this.caughtAt !== undefined) return;
    const acked = this.room.acked;
    while (this.#scan < this.#target && this.has(acked[this.#scan]!)) this.#scan++;
    if (this.#scan >= this.#target) this.caughtAt = performance.now();
  }
}

class Room {
  /** messages in the order their acks came */
  readonly acked: Sent[] = [];
  readonly members: Member[] = [];
  /** per publisher slot: messages sent, and those not acked (yet) */
  readonly sent: number[] = [];
  readonly unacked: Set<string> = new Set();

  constructor(readonly name: string) {}
}

/** The origin that payload() wrote at the start of a text. */
function parseOrigin(data: string): Sent | undefined {
  const colon = data.indexOf(':');
  const at = data.indexOf('@');
  if (colon < 1 || at < colon) return undefined;
  return { slot: Number(data.slice(0, colon)), seq: Number(data.slice(colon + 1, at)) };
}

const ms = (v: number) => (Number.isFinite(v) ? v : NaN);

export async function nodeDeath(target: JobTarget, p: NodeDeathParams): Promise<ScenarioResult> {
  if (!target.proxy) throw new Error('scenario 7 needs nginx in front of the nodes');
  const victim = target.nodes[1];
  if (!victim) throw new Error('scenario 7 needs two nodes');
  const { host, port } = target.proxy;
  const url = `http://${host}:${port}`;
  const parley = target.kind === 'parley';
  const setupStart = performance.now();

  const roomCount = Math.ceil(p.clients / p.roomSize);
  const rooms = Array.from({ length: roomCount }, (_, r) => new Room(`death-${r}`));
  const tokens: string[] = [];
  await runPool(
    Array.from({ length: p.clients }, (_, i) => i),
    p.concurrency,
    async (i) => void (tokens[i] = await signInGuest(host, port, `u${i}`)),
  );
  if (parley) {
    await runPool(rooms, 16, async (room) => {
      const res = await postJson(host, port, '/api/rooms', { name: room.name }, { token: tokens[0] });
      if (res.status !== 201 && res.status !== 409) throw new Error(`creating room ${room.name} failed: ${res.status} ${JSON.stringify(res.body)}`);
    });
  }

  const members: Member[] = [];
  let errors: string[] = [];
  try {
    await runPool(
      Array.from({ length: p.clients }, (_, i) => i),
      p.concurrency,
      async (i) => {
        const room = rooms[Math.floor(i / p.roomSize)]!;
        const chat = (parley ? parleyChat : socketioChat)(url, tokens[i]!, room.name);
        const member = new Member(chat, room);
        members[i] = member;
        room.members.push(member);
        chat.onMessage = (data, id) => {
          const o = parseOrigin(data);
          if (o) member.receive(o.slot, o.seq, id);
          else if (errors.length < 5) errors.push(`a message that the load did not write: ${data.slice(0, 40)}`);
        };
        await chat.start();
      },
    );
    const setupSeconds = (performance.now() - setupStart) / 1000;

    let killedAt = Infinity;
    let recovered = 0;
    for (const m of members) {
      m.chat.onDown = () => {
        if (performance.now() >= killedAt && m.downAt === undefined) m.downAt = performance.now();
      };
      m.chat.onUp = (wasRecovered) => {
        if (m.downAt === undefined) return;
        if (wasRecovered) recovered++;
        m.up(performance.now());
      };
    }

    // The publishers: the first members of each room, each on its own timer.
    let publishing = true;
    const timers: NodeJS.Timeout[] = [];
    const publish = (room: Room, slot: number) => {
      if (!publishing) return;
      const seq = (room.sent[slot] = (room.sent[slot] ?? 0) + 1);
      const key = `${slot}:${seq}`;
      room.unacked.add(key);
      room.members[slot]!.chat.send(payload(seq, p.dataBytes, slot)).then(
        () => {
          room.unacked.delete(key);
          room.acked.push({ slot, seq });
        },
        (err: unknown) => {
          if (errors.length < 5) errors.push(`${room.name} ${key}: ${err instanceof Error ? err.message : String(err)}`);
        },
      );
    };
    rooms.forEach((room, r) => {
      for (let slot = 0; slot < Math.min(p.publishersPerRoom, room.members.length); slot++) {
        // Spread the publishers' ticks over the interval.
        const offset = ((r * p.publishersPerRoom + slot) / (roomCount * p.publishersPerRoom)) * (1000 / p.rate);
        timers.push(
          setTimeout(() => {
            publish(room, slot);
            timers.push(setInterval(() => publish(room, slot), 1000 / p.rate));
          }, offset),
        );
      }
    });

    await sleep(p.warmupMs);
    const cpu = processCpuMeter(target.processes);
    const load = selfCpuMeter();
    const w0 = monotonicUs();
    killedAt = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    const dead = () => members.filter((m) => m.downAt !== undefined);
    let allConnectedAt = Infinity;
    const recoveryOver = () => {
      const cut = dead();
      if (cut.length === 0) return false;
      if (cut.every((m) => m.caughtAt !== undefined)) return true;
      if (allConnectedAt === Infinity && cut.every((m) => m.upAt !== undefined)) allConnectedAt = performance.now();
      return performance.now() - allConnectedAt >= p.settleMs;
    };
    await waitUntil(recoveryOver, p.maxRecoveryMs);
    const recoveryMs = performance.now() - killedAt;
    const processCpu = cpu();
    const loadCpu = load();
    const w1 = monotonicUs();

    await sleep(p.afterMs);
    publishing = false;
    for (const t of timers) clearTimeout(t);
    // The last acks (socket.io's retries may take up to its ack timeout per try), then the last
    // deliveries, until all have come or none came for a while.
    const ackedAll = () => rooms.every((r) => r.unacked.size === 0);
    await waitUntil(ackedAll, parley ? 15_000 : SOCKETIO_ACK_TIMEOUT_MS * (SOCKETIO_RETRIES + 1) + 2000);
    let deliveries = -1;
    let lastProgress = performance.now();
    const deliveredAll = () => {
      const now = members.reduce((sum, m) => sum + m.deliveries, 0);
      if (now !== deliveries) [deliveries, lastProgress] = [now, performance.now()];
      return members.every((m) => m.room.acked.every((s) => m.has(s))) || performance.now() - lastProgress > 2000;
    };
    await waitUntil(deliveredAll, 15_000);

    let lost = 0;
    let duplicates = 0;
    let incomplete = 0;
    let idErrors = 0;
    for (const m of members) {
      let missing = 0;
      for (const s of m.room.acked) if (!m.has(s)) missing++;
      for (const counts of m.received) for (const n of counts ?? []) if (n !== undefined && n > 1) duplicates += n - 1;
      lost += missing;
      if (missing > 0) incomplete++;
      idErrors += m.idErrors;
    }
    const affected = dead();
    const fromKill = (t: number | undefined) => (t === undefined ? Infinity : t - killedAt);
    const reconnect = Float64Array.from(affected.map((m) => fromKill(m.upAt))).sort();
    const back = Float64Array.from(affected.map((m) => fromKill(m.caughtAt))).sort();
    const messages = rooms.reduce((s, r) => s + r.acked.length, 0);
    const sent = rooms.reduce((s, r) => s + r.sent.reduce((a, b) => a + b, 0), 0);
    const unacked = rooms.reduce((s, r) => s + r.unacked.size, 0);
    const notBack = affected.filter((m) => m.caughtAt === undefined).length;
    if (affected.length === 0) errors = [...errors, 'no client lost its connection when the node was killed'];
    const check: DeliveryCheck = {
      passed: parley && affected.length > 0 && lost === 0 && duplicates === 0 && unacked === 0 && notBack === 0 && idErrors === 0 && errors.length === 0,
      receivers: members.length,
      messages,
      incomplete,
      orderErrors: idErrors + duplicates,
      unacked,
      closed: 0,
      errors,
    };
    return {
      metrics: {
        clients: members.length,
        affected: affected.length,
        reconnectP50Ms: ms(percentile(reconnect, 0.5)),
        reconnectP99Ms: ms(percentile(reconnect, 0.99)),
        reconnectMaxMs: ms(reconnect[reconnect.length - 1] ?? NaN),
        backP50Ms: ms(percentile(back, 0.5)),
        backP99Ms: ms(percentile(back, 0.99)),
        backMaxMs: ms(back[back.length - 1] ?? NaN),
        notBack,
        lost,
        duplicates,
        unacked,
        recovered,
        messages,
        sent,
        recoveryMs,
        ...processMetrics(processCpu),
      },
      // Only Parley promises every message across a node's death; socket.io's figures are what its clients got.
      ...(parley ? { check } : {}),
      loadCpu,
      notes: [],
      setup: `setup: ${setupSeconds.toFixed(1)} s`,
      windowUs: [w0, w1],
    };
  } finally {
    for (const m of members) m?.chat.close();
  }
}
