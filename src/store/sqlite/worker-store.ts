/**
 * The SQLite store on a thread of its own. better-sqlite3 is synchronous: on the event loop, every
 * commit (about a tenth of the server's time under a chat load) and every stall inside one (a WAL
 * checkpoint, a slow disk) would hold up every socket. Here the event loop only posts the call; it
 * parses, fans out and writes the next messages while this thread commits the last ones.
 *
 * Calls are answered in the order they are made, so a read made after a write sees it.
 */
import { Worker } from 'node:worker_threads';
import { isPlainMessage } from '../timeline-rules.js';
import type { AppendResult, AuditRecord, HistoryQuery, ModerationEntry, ModerationOutcome, RoomModeration, MessagesPage, NewEntry, NewMessage, NewUser, Room, SearchPage, SearchQuery, Session, Store, StoredMessage, TimelineEntry, User, UserRecord, Welcome } from '../types.js';
import type { SqliteStoreOptions } from './sqlite-store.js';
import { batchTransfer, ENTRIES, packBatch, unpackError, type StoreCall, type StoreMethod, type StoreReply, type WorkerStoreData } from './worker-protocol.js';
import { wireUser } from '../../protocol/frames.js';

/**
 * What the thread allocates lives for one call (rows, results), so a small young generation holds
 * it: V8's default lets it grow by tens of MB of resident memory before the first scavenge.
 */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 4 };

function startThread(data: WorkerStoreData): Worker {
  const options = { workerData: data, resourceLimits: RESOURCE_LIMITS };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./store-worker.js', import.meta.url), options);
  // Under tsx (tests, `bench --parley=source`) the entry is TypeScript, and a new thread has no
  // loader for it until it registers one.
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./store-worker.ts', import.meta.url).href;
  const source = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(source, { ...options, eval: true });
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export interface WorkerStoreOptions extends SqliteStoreOptions {
  /** Called once if the thread dies: every call after that fails. */
  onFailure?: (err: Error) => void;
}

export class WorkerStore implements Store {
  readonly file: string;
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #onFailure: ((err: Error) => void) | undefined;
  #nextId = 1;
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;

  /** Starts the thread and opens (creating and migrating if needed) the database at `file`. */
  static async open(file: string, options: WorkerStoreOptions = {}): Promise<WorkerStore> {
    const { onFailure, ...storeOptions } = options;
    const store = new WorkerStore(file, storeOptions, onFailure);
    try {
      await store.#opened;
    } catch (err) {
      store.#closing = store.#worker.terminate().then(() => {});
      throw err;
    }
    return store;
  }

  readonly #opened: Promise<unknown>;

  private constructor(file: string, options: SqliteStoreOptions, onFailure: ((err: Error) => void) | undefined) {
    this.file = file;
    this.#onFailure = onFailure;
    const data: WorkerStoreData = { file, options: { ...options } };
    this.#worker = startThread(data);
    this.#worker.on('message', (reply: StoreReply) => this.#settle(reply));
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('messageerror', (err) => this.#fail(err));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the store thread exited (code ${code})`)));
    this.#opened = new Promise((resolve, reject) => this.#pending.set(0, { resolve, reject }));
  }

  #settle(reply: StoreReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    // An idle store must not keep the process alive by itself (a forgotten close in a test, say).
    if (this.#pending.size === 0) this.#worker.unref();
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(unpackError(reply.error));
  }

  #fail(err: Error): void {
    if (this.#failure) return;
    const expected = this.#closing !== undefined;
    this.#failure = expected ? new Error('the store is closed') : err;
    for (const pending of this.#pending.values()) pending.reject(this.#failure);
    this.#pending.clear();
    if (!expected) this.#onFailure?.(err);
  }

  #call<T>(method: StoreMethod, args: unknown[], transfer?: ArrayBuffer[]): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closing && method !== 'close') return Promise.reject(new Error('the store is closed'));
    const id = this.#nextId++;
    if (this.#pending.size === 0) this.#worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ id, method, args } satisfies StoreCall, transfer);
    });
  }

  createUser(input: NewUser): Promise<User> {
    return this.#call('createUser', [input]);
  }

  createUserSession(input: NewUser, expiresAt: number): Promise<Session> {
    return this.#call('createUserSession', [input, expiresAt]);
  }

  findRegisteredUser(name: string): Promise<UserRecord | undefined> {
    return this.#call('findRegisteredUser', [name]);
  }

  getUser(id: number): Promise<User | undefined> {
    return this.#call('getUser', [id]);
  }

  findUsers(prefix: string, limit: number): Promise<User[]> {
    return this.#call('findUsers', [prefix, limit]);
  }

  setPassword(userId: number, passwordHash: string): Promise<void> {
    return this.#call('setPassword', [userId, passwordHash]);
  }

  createSession(userId: number, expiresAt: number): Promise<Session> {
    return this.#call('createSession', [userId, expiresAt]);
  }

  getSession(id: string, now: number): Promise<Session | undefined> {
    return this.#call('getSession', [id, now]);
  }

  endSession(id: string): Promise<void> {
    return this.#call('endSession', [id]);
  }

  endUserSessions(userId: number): Promise<void> {
    return this.#call('endUserSessions', [userId]);
  }

  createRoom(input: { name: string; private: boolean; createdBy: number | null; direct?: boolean }): Promise<Room> {
    return this.#call('createRoom', [input]);
  }

  getRoom(name: string): Promise<Room | undefined> {
    return this.#call('getRoom', [name]);
  }

  listRooms(forUserId: number): Promise<Room[]> {
    return this.#call('listRooms', [forUserId]);
  }

  welcomeRooms(userId: number, now: number): Promise<Welcome> {
    return this.#call('welcomeRooms', [userId, now]);
  }

  addMember(room: string, userId: number): Promise<void> {
    return this.#call('addMember', [room, userId]);
  }

  isMember(room: string, userId: number): Promise<boolean> {
    return this.#call('isMember', [room, userId]);
  }

  setUserBanned(userId: number, banned: boolean): Promise<boolean> {
    return this.#call('setUserBanned', [userId, banned]);
  }

  moderate(entry: ModerationEntry): Promise<ModerationOutcome> {
    return this.#call('moderate', [entry]);
  }

  roomModeration(room: string, now: number): Promise<RoomModeration> {
    return this.#call('roomModeration', [room, now]);
  }

  auditLog(room: string, limit: number): Promise<AuditRecord[]> {
    return this.#call('auditLog', [room, limit]);
  }

  ensureDirectRoom(a: number, b: number): Promise<Room> {
    return this.#call('ensureDirectRoom', [a, b]);
  }

  async appendMessages(batch: NewEntry[]): Promise<AppendResult[]> {
    if (batch.length === 0) return [];
    // Events and replies are rare: they cross as they are, entries and results both.
    if (!batch.every(isPlainMessage)) return this.#call('appendMessages', [batch, ENTRIES]);
    const plain = batch as NewMessage[];
    const batchPacked = packBatch(plain);
    const packed = await this.#call<Array<number | TimelineEntry>>('appendMessages', [batchPacked], batchTransfer(batchPacked));
    return packed.map((p, i): AppendResult => {
      if (typeof p !== 'number') return { message: p, duplicate: true };
      const m = plain[i]!;
      // Only what is stored goes out with the message (a sender object may carry more).
      const message: StoredMessage = { room: m.room, id: p, user: wireUser(m.user), data: m.data, ts: m.ts };
      if (m.cid !== undefined) message.cid = m.cid;
      return { message, duplicate: false };
    });
  }

  history(room: string, query: HistoryQuery): Promise<TimelineEntry[]> {
    return this.#call('history', [room, query]);
  }

  messages(room: string, query: HistoryQuery): Promise<MessagesPage> {
    return this.#call('messages', [room, query]);
  }

  oldestKeptId(room: string): Promise<number | undefined> {
    return this.#call('oldestKeptId', [room]);
  }

  lastIds(rooms: string[]): Promise<Map<string, number>> {
    return this.#call('lastIds', [rooms]);
  }

  lastIdBefore(room: string, ts: number): Promise<number> {
    return this.#call('lastIdBefore', [room, ts]);
  }

  prune(room: string, keep: number): Promise<number> {
    return this.#call('prune', [room, keep]);
  }

  search(query: SearchQuery): Promise<SearchPage> {
    return this.#call('search', [query]);
  }

  setReadMarker(userId: number, room: string, id: number): Promise<number | undefined> {
    return this.#call('setReadMarker', [userId, room, id]);
  }

  usersByNameKeys(keys: string[], options?: { membersOf?: string }): Promise<User[]> {
    return this.#call('usersByNameKeys', [keys, options]);
  }

  async ping(): Promise<boolean> {
    if (this.#failure || this.#closing) return false;
    try {
      return await this.#call<boolean>('ping', []);
    } catch {
      return false;
    }
  }

  /** Waits for the calls already made, closes the database, and stops the thread. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#failure) return;
      try {
        await this.#call('close', []);
      } finally {
        await this.#worker.terminate();
      }
    })();
    return this.#closing;
  }
}
