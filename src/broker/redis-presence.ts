/**
 * Presence across nodes, in Redis: each node's entries (room, user, connection) expire unless the
 * node refreshes them, so a node that dies takes its users with it. Every change is a Lua script
 * (see redis-presence-scripts.ts); the node keeps its own entries here too, to refresh them and to
 * put them back when Redis has lost them (a restart without persistence, or a long outage).
 */
import type { Logger } from 'pino';
import { createClient } from '@redis/client';
import { presenceOrder } from './presence-order.js';
import { answers, closeConnection, connectOrFail, redisOptions, watchConnection } from './redis-client.js';
import { ADD, DUE_KEY, LIST, presenceKeys, REFRESH, REMOVE, SWEEP } from './redis-presence-scripts.js';
import type { Presence, PresenceUser } from './types.js';

export interface RedisPresenceOptions {
  /** How long a node's entries outlive its last refresh (PRESENCE_TTL_MS). */
  ttlMs: number;
  /** How often the node refreshes its entries (PRESENCE_REFRESH_MS); well under ttlMs. */
  refreshMs: number;
  logger: Logger;
}

/** Rooms the sweeper looks at per script call, and calls per sweep: bounded work per turn. */
const SWEEP_BATCH = 100;
const SWEEP_CALLS = 10;
/** The sweeper looks for due rooms at least this often (and sooner when one falls due). */
const SWEEP_MAX_WAIT_MS = 1000;

/** Entries refreshed per script call: bounded work for Redis per call. */
const REFRESH_BATCH = 1000;

type Client = ReturnType<typeof createClient>;

/** Marks a guest's label: names never hold control characters (protocol/names.ts). */
const GUEST_MARK = '\u0001';

/**
 * What the names hash keeps of a user: the name for an account (as nodes before the guest flag
 * wrote it), the name after GUEST_MARK for a guest.
 */
export function presenceLabel(user: PresenceUser): string {
  return user.guest ? GUEST_MARK + user.name : user.name;
}

/** The user a names-hash value describes (see presenceLabel). */
export function userOfLabel(id: number, label: string): PresenceUser {
  return label.startsWith(GUEST_MARK) ? { id, name: label.slice(GUEST_MARK.length), guest: true } : { id, name: label };
}

/** The users in a script's reply (departures, or entries put back): flat (room, userId, label) triplets. */
function roomUsers(flat: unknown): { room: string; user: PresenceUser }[] {
  const list = flat as string[];
  const out = [];
  for (let i = 0; i + 2 < list.length; i += 3) out.push({ room: String(list[i]), user: userOfLabel(Number(list[i + 1]), String(list[i + 2])) });
  return out;
}

export class RedisPresence implements Presence {
  readonly #client: Client;
  readonly #options: RedisPresenceOptions;
  readonly #log: Logger;
  /** This node's entries: room -> member (`<node>|<userId>|<connId>`) -> its user. */
  readonly #entries = new Map<string, Map<string, PresenceUser>>();
  #onExpired: ((room: string, user: PresenceUser) => void) | undefined;
  #onReturned: ((room: string, user: PresenceUser) => void) | undefined;
  #refreshTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #refreshing = false;
  #stopped = false;

  private constructor(
    readonly nodeId: string,
    client: Client,
    options: RedisPresenceOptions,
  ) {
    this.#client = client;
    this.#options = options;
    this.#log = options.logger.child({ component: 'redis-presence', node: nodeId });
  }

  /** Connects to the Redis at `url` (fails if it cannot within 10 s) and starts refreshing and sweeping. */
  static async connect(url: string, nodeId: string, options: RedisPresenceOptions): Promise<RedisPresence> {
    const client = createClient(redisOptions(url));
    const presence = new RedisPresence(nodeId, client, options);
    // Back after an outage or a restart: put this node's entries back at once.
    watchConnection(client, options.logger, 'presence', () => void presence.#refresh());
    await connectOrFail(client, url);
    presence.#refreshTimer = setInterval(() => void presence.#refresh(), options.refreshMs);
    presence.#refreshTimer.unref();
    presence.#scheduleSweep(0);
    return presence;
  }

  async add(room: string, user: PresenceUser, connId: string): Promise<boolean> {
    const member = this.#member(user, connId);
    // Kept before Redis answers: if it does not, the next refresh puts the entry there.
    let here = this.#entries.get(room);
    if (!here) this.#entries.set(room, (here = new Map()));
    here.set(member, user);
    const args = [room, member, String(user.id), presenceLabel(user), String(this.#options.ttlMs)];
    const [entered, gone] = (await this.#client.eval(ADD, { keys: presenceKeys(room), arguments: args })) as [number, unknown];
    this.#report(gone);
    return entered === 1;
  }

  async remove(room: string, user: PresenceUser, connId: string): Promise<boolean> {
    const member = this.#member(user, connId);
    const here = this.#entries.get(room);
    // Forgotten here first: if Redis does not answer, the entry expires there and is reported then.
    if (!here?.delete(member)) return false;
    if (here.size === 0) this.#entries.delete(room);
    const args = [room, member, String(user.id)];
    const [left, gone] = (await this.#client.eval(REMOVE, { keys: presenceKeys(room), arguments: args })) as [number, unknown];
    this.#report(gone);
    return left === 1;
  }

  async list(room: string): Promise<PresenceUser[]> {
    const flat = (await this.#client.eval(LIST, { keys: presenceKeys(room) })) as string[];
    const users: PresenceUser[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) users.push(userOfLabel(Number(flat[i]), String(flat[i + 1])));
    return users.sort(presenceOrder);
  }

  onExpired(handler: (room: string, user: PresenceUser) => void): void {
    this.#onExpired = handler;
  }

  onReturned(handler: (room: string, user: PresenceUser) => void): void {
    this.#onReturned = handler;
  }

  ping(): Promise<boolean> {
    return answers(this.#client);
  }

  /**
   * Stops refreshing and sweeping and drops the connection, leaving this node's entries in Redis to
   * expire: what a node that dies does. For tests of that.
   */
  abandon(): void {
    this.#stop();
    this.#client.destroy();
  }

  async close(): Promise<void> {
    this.#stop();
    // Entries still here (connections whose leave had not finished) expire and are reported then.
    this.#entries.clear();
    await closeConnection(this.#client);
  }

  #stop(): void {
    this.#stopped = true;
    clearInterval(this.#refreshTimer);
    clearTimeout(this.#sweepTimer);
  }

  #member(user: PresenceUser, connId: string): string {
    return `${this.nodeId}|${user.id}|${connId}`;
  }

  #report(flat: unknown): void {
    for (const { room, user } of roomUsers(flat)) this.#onExpired?.(room, user);
  }

  /** Pushes back the expiry of every entry of this node: a script per REFRESH_BATCH entries, pipelined. */
  async #refresh(): Promise<void> {
    if (this.#refreshing || this.#stopped) return;
    this.#refreshing = true;
    try {
      const ttl = String(this.#options.ttlMs);
      const calls: Promise<unknown>[] = [];
      let args = [ttl];
      for (const [room, here] of this.#entries) {
        for (const [member, user] of here) {
          args.push(room, member, String(user.id), presenceLabel(user));
          if (args.length > REFRESH_BATCH * 4) {
            calls.push(this.#client.eval(REFRESH, { arguments: args }));
            args = [ttl];
          }
        }
      }
      if (args.length > 1) calls.push(this.#client.eval(REFRESH, { arguments: args }));
      const results = await Promise.allSettled(calls);
      for (const result of results) {
        if (result.status === 'rejected') continue; // Redis unreachable: the connection logs it.
        const [returned, gone] = result.value as [string[], unknown];
        if (returned.length > 0) {
          // Redis had lost them (a restart) or removed them as a dead node's (this node could not
          // reach it for longer than the TTL): they are in their rooms again.
          this.#log.warn({ users: returned.length / 3 }, 'presence entries were missing from Redis and are back');
          for (const { room, user } of roomUsers(returned)) this.#onReturned?.(room, user);
        }
        this.#report(gone);
      }
    } finally {
      this.#refreshing = false;
    }
  }

  #scheduleSweep(ms: number): void {
    if (this.#stopped) return;
    this.#sweepTimer = setTimeout(() => void this.#sweep(), ms);
    this.#sweepTimer.unref();
  }

  /** Removes expired entries of every node and reports the users who left with them. */
  async #sweep(): Promise<void> {
    let wait = SWEEP_MAX_WAIT_MS;
    try {
      for (let call = 0; call < SWEEP_CALLS && !this.#stopped; call++) {
        const reply = await this.#client.eval(SWEEP, { keys: [DUE_KEY], arguments: [String(SWEEP_BATCH)] });
        const [rooms, nextDue, gone] = reply as [number, number, unknown];
        this.#report(gone);
        if (nextDue >= 0) wait = Math.min(SWEEP_MAX_WAIT_MS, nextDue);
        if (rooms < SWEEP_BATCH) break;
        wait = 0;
      }
    } catch {
      // Redis unreachable: the connection logs it; try again later.
    }
    // Not all at once: the nodes would all wake for the same due room.
    this.#scheduleSweep(Math.max(wait, 10) + Math.floor(Math.random() * 20));
  }
}
