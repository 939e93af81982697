/**
 * One benchmark connection to any of the three servers. Each server's dialect (how to sign in,
 * join, publish, and what its frames look like) is kept here, next to the frame classifier.
 *
 * Chat frames are recognised by a fixed prefix and their room sequence `id` is read from the
 * bytes without JSON-parsing the frame, so a receiver costs a few hundred nanoseconds per frame.
 * The first frames are also JSON-parsed to prove the shortcut reads the right number; if it
 * ever does not, every chat frame is parsed from then on (slower, never wrong).
 */
import { RawWs } from './raw-ws.js';
import { postJson } from './http.js';

export type ServerKind = 'ws' | 'socketio' | 'parley';

export interface Target {
  kind: ServerKind;
  host: string;
  port: number;
}

const enc = (s: string) => Buffer.from(s);
const CHAT_PREFIX: Record<ServerKind, Buffer> = {
  parley: enc('{"type":"chat",'),
  ws: enc('{"type":"chat",'),
  socketio: enc('42["chat",{"type":"chat",'),
};
const ID_KEY = enc('"id":');
const DATA_KEY = enc('"data":"');
const PARLEY_ACK = enc('{"type":"ack"');
const PARLEY_PRESENCE = [enc('{"type":"join"'), enc('{"type":"left"'), enc('{"type":"typing"')];
/** Presence frames of the peers, skipped unparsed like Parley's (the join answer is the `list`). */
const PEER_PRESENCE: Record<'ws' | 'socketio', Buffer[]> = {
  ws: [enc('{"type":"join"'), enc('{"type":"left"')],
  socketio: [enc('42["join",'), enc('42["left",')],
};

/** How many chat frames (per process) are also JSON-parsed to validate the byte shortcut. */
let toValidate = 50;
let fastIds = true;

function startsWith(buf: Buffer, start: number, end: number, prefix: Buffer): boolean {
  if (end - start < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false;
  return true;
}

function parseJson(buf: Buffer, start: number, end: number, skip = 0): unknown {
  return JSON.parse(buf.toString('utf8', start + skip, end));
}

/** The chat message of a frame payload, for the slow path (socket.io frames are `42[event, data]`). */
function parseChat(kind: ServerKind, buf: Buffer, start: number, end: number): { id: number; data: string } {
  if (kind === 'socketio') return (parseJson(buf, start, end, 2) as [string, { id: number; data: string }])[1];
  return parseJson(buf, start, end) as { id: number; data: string };
}

/**
 * Where the first `"id":` in buf[start, end) ends, or -1. A byte loop: the key is a few dozen bytes
 * into the frame, and buf.indexOf's native call cost receivers more than the search itself.
 */
function afterIdKey(buf: Buffer, start: number, end: number): number {
  const last = end - ID_KEY.length;
  for (let i = start; i <= last; i++) {
    if (buf[i] === 0x22 && buf[i + 1] === 0x69 && buf[i + 2] === 0x64 && buf[i + 3] === 0x22 && buf[i + 4] === 0x3a) return i + ID_KEY.length;
  }
  return -1;
}

function readId(kind: ServerKind, buf: Buffer, start: number, end: number, from: number): number {
  if (fastIds) {
    const at = afterIdKey(buf, from, end);
    let id = -1;
    if (at >= 0) {
      id = 0;
      for (let i = at; i < end; i++) {
        const c = buf[i]!;
        if (c < 48 || c > 57) break;
        id = id * 10 + (c - 48);
      }
    }
    if (toValidate > 0) {
      toValidate--;
      const parsed = parseChat(kind, buf, start, end).id;
      if (parsed !== id) {
        fastIds = false;
        process.stderr.write(`bench: chat ids are not where expected (read ${id}, parsed ${parsed}); parsing every frame\n`);
        return parsed;
      }
    }
    if (id >= 0) return id;
  }
  return parseChat(kind, buf, start, end).id;
}

/**
 * Where a message came from, written by the load at the start of its text (`<publisher>:<seq>@…`,
 * see payload()): read from the frame's bytes after `"data":"`, from `from` on. Sets `origin.pub`
 * and `origin.seq`; both are -1 when the frame does not hold such a text.
 */
export const origin = { pub: -1, seq: -1 };

function readOrigin(buf: Buffer, from: number, end: number): void {
  origin.pub = -1;
  origin.seq = -1;
  const last = end - DATA_KEY.length;
  let i = from;
  for (; i <= last; i++) {
    if (buf[i] === 0x22 && buf[i + 1] === 0x64 && buf[i + 2] === 0x61 && buf[i + 3] === 0x74 && buf[i + 4] === 0x61 && buf[i + 5] === 0x22 && buf[i + 6] === 0x3a && buf[i + 7] === 0x22) break;
  }
  if (i > last) return;
  let pub = 0;
  let seq = 0;
  for (i += DATA_KEY.length; i < end && buf[i] !== 0x3a; i++) pub = pub * 10 + (buf[i]! - 48);
  for (i++; i < end && buf[i] !== 0x40; i++) seq = seq * 10 + (buf[i]! - 48);
  if (i >= end) return;
  origin.pub = pub;
  origin.seq = seq;
}

function deferred<T>(label: string, timeoutMs: number) {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const timer = setTimeout(() => reject(new Error(`${label}: no answer in ${timeoutMs} ms`)), timeoutMs);
  promise.then(
    () => clearTimeout(timer),
    () => clearTimeout(timer),
  );
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export interface ClientOptions {
  timeoutMs?: number;
  /**
   * Also check that each publisher's messages come once and in its order (by the origin written in
   * the text). For servers whose nodes have no shared room sequence (socket.io's Redis adapter):
   * the room id order is then not checked.
   */
  byPublisher?: boolean;
}

/**
 * Clients come from many loopback addresses, SIGN_INS_PER_ADDRESS each, as real users come from
 * many addresses: Parley limits sign-ins per client IP (a burst of 30), and that stays on.
 */
const SIGN_INS_PER_ADDRESS = 25;
let signIns = 0;

export function nextSourceAddress(): string {
  const g = Math.floor(signIns++ / SIGN_INS_PER_ADDRESS);
  return `127.${10 + Math.floor(g / 62_500)}.${1 + (Math.floor(g / 250) % 250)}.${1 + (g % 250)}`;
}

/** Signs a guest in (`POST /api/guest`, every server has it) from a source address; returns the token. */
export async function signInGuest(host: string, port: number, name: string, localAddress = nextSourceAddress()): Promise<string> {
  const res = await postJson(host, port, '/api/guest', { name }, { localAddress });
  const token = (res.body as { token?: unknown } | undefined)?.token;
  if (res.status !== 200 || typeof token !== 'string') {
    throw new Error(`sign-in of ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return token;
}

export class BenchClient {
  ws!: RawWs;
  token = '';
  /** chat frames received */
  chats = 0;
  /** the room sequence id of the last chat frame */
  lastId = 0;
  /** chat frames whose id was not lastId + 1 (a gap, a duplicate or a reordering) */
  orderErrors = 0;
  /** byPublisher: the last seq of each publisher, and frames whose seq was not its publisher's last + 1 */
  publisherLast: number[] = [];
  publisherErrors = 0;
  acks = 0;
  /** error frames from the server (first few) */
  errors: string[] = [];
  /** whether each publisher's order is checked instead of the room id order (see ClientOptions) */
  get byPublisher(): boolean {
    return this.opts.byPublisher === true;
  }
  /** called per chat frame, for flow control and latency */
  onChat: ((client: BenchClient, id: number, buf: Buffer, start: number, end: number) => void) | undefined;
  /** frames that were neither chat nor presence, e.g. the welcome and the join answers */
  #welcome;
  #joined = new Map<string, ReturnType<typeof deferred<void>>>();
  readonly #prefix: Buffer;

  constructor(
    readonly target: Target,
    readonly name: string,
    private readonly opts: ClientOptions = {},
  ) {
    this.#prefix = CHAT_PREFIX[target.kind];
    this.#welcome = deferred<void>(`welcome of ${name}`, opts.timeoutMs ?? 30_000);
  }

  /** Signs in over HTTP, upgrades, and waits for the server's first frame (welcome / CONNECT ack). */
  async connect(): Promise<void> {
    const { kind, host, port } = this.target;
    const localAddress = nextSourceAddress();
    const token = await signInGuest(host, port, this.name, localAddress);
    this.token = token;
    const path = kind === 'socketio' ? '/socket.io/?EIO=4&transport=websocket' : '/ws/chat';
    const headers: Record<string, string> = kind === 'socketio' ? {} : { authorization: `Bearer ${token}` };
    this.ws = new RawWs({ host, port, path, headers, localAddress, timeoutMs: this.opts.timeoutMs }, this.#onText);
    this.ws.onClose = () => this.#welcome.reject(new Error(`${this.name} closed before the welcome`));
    await this.ws.ready;
    if (kind === 'socketio') this.ws.send(`40${JSON.stringify({ token })}`);
    await this.#welcome.promise;
  }

  /** Sends a join and returns a promise of the server's answer: the room's `list`. */
  join(room: string): Promise<void> {
    const d = deferred<void>(`join ${room} by ${this.name}`, this.opts.timeoutMs ?? 30_000);
    this.#joined.set(room, d);
    this.ws.send(this.target.kind === 'socketio' ? `42${JSON.stringify(['join', room])}` : JSON.stringify({ type: 'join', room }));
    return d.promise;
  }

  /** The text frame of one chat message in this server's dialect. */
  chatText(room: string, data: string, cid: string): string {
    if (this.target.kind === 'socketio') return `42${JSON.stringify(['chat', { room, data }])}`;
    // The same text as JSON.stringify of { type, room, data[, cid] }, without building the object.
    const head = `{"type":"chat","room":${JSON.stringify(room)},"data":${JSON.stringify(data)}`;
    if (this.target.kind === 'ws') return `${head}}`;
    return `${head},"cid":${JSON.stringify(cid)}}`;
  }

  close(): void {
    this.ws?.close();
  }

  #chat(id: number, buf: Buffer, start: number, end: number): void {
    this.chats++;
    if (id !== this.lastId + 1) this.orderErrors++;
    if (id > this.lastId) this.lastId = id;
    if (this.opts.byPublisher) {
      readOrigin(buf, start, end);
      const last = this.publisherLast[origin.pub] ?? 0;
      if (origin.pub < 0 || origin.seq !== last + 1) this.publisherErrors++;
      if (origin.pub >= 0 && origin.seq > last) this.publisherLast[origin.pub] = origin.seq;
    }
    this.onChat?.(this, id, buf, start, end);
  }

  #onText = (buf: Buffer, start: number, end: number): void => {
    const kind = this.target.kind;
    if (startsWith(buf, start, end, this.#prefix)) {
      this.#chat(readId(kind, buf, start, end, start + this.#prefix.length), buf, start, end);
      return;
    }
    if (kind === 'parley') {
      if (startsWith(buf, start, end, PARLEY_ACK)) {
        this.acks++;
        return;
      }
      for (const p of PARLEY_PRESENCE) if (startsWith(buf, start, end, p)) return;
      const msg = parseJson(buf, start, end) as { type?: string; room?: string; id?: number; code?: string; message?: string };
      if (msg.type === 'welcome') this.#welcome.resolve();
      else if (msg.type === 'list' && msg.room) this.#joined.get(msg.room)?.resolve();
      else if (msg.type === 'chat') this.#chat(msg.id ?? -1, buf, start, end);
      else if (msg.type === 'ack') this.acks++;
      else if (msg.type === 'error') this.#error(`${msg.code}: ${msg.message}`);
      return;
    }
    for (const p of PEER_PRESENCE[kind]) if (startsWith(buf, start, end, p)) return;
    if (kind === 'ws') {
      const msg = parseJson(buf, start, end) as { type?: string; room?: string };
      if (msg.type === 'welcome') this.#welcome.resolve();
      else if (msg.type === 'list' && msg.room) this.#joined.get(msg.room)?.resolve();
      return;
    }
    // socket.io: engine.io packet type first, then the socket.io packet type
    const c0 = buf[start];
    if (c0 === 0x32 /* '2' ping */ && end - start === 1) this.ws.send('3');
    else if (c0 === 0x34 /* '4' message */) {
      const c1 = buf[start + 1];
      if (c1 === 0x30 /* '0' CONNECT */) this.#welcome.resolve();
      else if (c1 === 0x34 /* '4' CONNECT_ERROR */) this.#welcome.reject(new Error(`refused: ${buf.toString('utf8', start, end)}`));
      else if (c1 === 0x32 /* '2' EVENT */) {
        const [event, arg] = parseJson(buf, start, end, 2) as [string, { room?: unknown } | undefined];
        if (event === 'list' && typeof arg?.room === 'string') this.#joined.get(arg.room)?.resolve();
      }
    }
  };

  #error(text: string): void {
    if (this.errors.length < 5) this.errors.push(text);
  }
}

/** Creates the rooms a scenario uses, where the server needs that (Parley: `POST /api/rooms`). */
export async function createRooms(client: BenchClient, rooms: string[], concurrency = 16): Promise<void> {
  if (client.target.kind !== 'parley') return;
  const { host, port } = client.target;
  await runPool(rooms, concurrency, async (name) => {
    const res = await postJson(host, port, '/api/rooms', { name }, { token: client.token });
    if (res.status !== 201 && res.status !== 409) {
      throw new Error(`creating room ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
  });
}

/** Runs fn over items with at most `concurrency` in flight; rejects on the first failure. */
export async function runPool<T>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
