/**
 * Who may use which room. Public rooms are open to everyone; private rooms and DMs to their
 * members, and to anyone else they do not exist: a non-member gets the not_found of a missing room,
 * so that trying names cannot discover private rooms. A user banned from a room may not use it at
 * all (`banned`); one muted in it may read it, not post (`muted`).
 *
 * Rooms are cached (they are never deleted and their privacy never changes); so are each room's
 * rules (moderators, bans, mutes), which every node forgets when a moderation event says they
 * changed (forget), and all at once when the broker comes back after missing events (forgetAll).
 * A connection remembers the private rooms it was found allowed in, so that the hot path (a chat to
 * a room already allowed) needs no await.
 */
import { presenceOrder } from '../broker/presence-order.js';
import type { PresenceUser } from '../broker/types.js';
import type { ListFrame, RoomRole } from '../protocol/frames.js';
import { nameKey } from '../protocol/names.js';
import type { Author, Room, RoomModeration, Store } from '../store/types.js';
import { ChatError } from './errors.js';

/** Who acts: a user, and whether a guest (a guest is never an admin). */
export interface Actor {
  readonly id: number;
  readonly name: string;
  readonly guest: boolean;
}

/** What access needs of a connection: its user and the private rooms it was found allowed in. */
export interface AccessHolder {
  readonly user: PresenceUser;
  readonly guest: boolean;
  allows(room: string): boolean;
  allow(room: string): void;
}

/**
 * A room's rules as cached: its moderators, and its bans and mutes by user (until when; undefined:
 * until lifted), with the users banned or muted as frames name them (by id).
 */
export interface RoomRules {
  readonly moderators: ReadonlySet<number>;
  readonly bans: ReadonlyMap<number, number | undefined>;
  readonly mutes: ReadonlyMap<number, number | undefined>;
  readonly restricted: ReadonlyMap<number, Author>;
}

const NO_RULES: RoomRules = { moderators: new Set(), bans: new Map(), mutes: new Map(), restricted: new Map() };

/** Whether the user has a ban or mute of `list` in force now. */
export function inForce(list: ReadonlyMap<number, number | undefined>, userId: number, now = Date.now()): boolean {
  if (list.size === 0 || !list.has(userId)) return false;
  const until = list.get(userId);
  return until === undefined || until > now;
}

/** Who is banned from a room now (until when; null: until lifted): the `banned` of a list frame. */
export type BannedNow = NonNullable<ListFrame['banned']>;

/** Who the rules ban now, ordered as a room's list is (by name, then id). */
export function bannedNow(rules: RoomRules, now = Date.now()): BannedNow {
  const banned: BannedNow = [];
  for (const [id, until] of rules.bans) {
    const user = rules.restricted.get(id);
    if (user !== undefined && inForce(rules.bans, id, now)) banned.push({ user, until: until ?? null });
  }
  return banned.sort((a, b) => presenceOrder(a.user, b.user));
}

function toRules(m: RoomModeration): RoomRules {
  const bans = new Map<number, number | undefined>();
  const mutes = new Map<number, number | undefined>();
  const restricted = new Map<number, Author>();
  for (const r of m.restrictions) {
    (r.kind === 'ban' ? bans : mutes).set(r.user.id, r.until);
    restricted.set(r.user.id, r.user);
  }
  return { moderators: new Set(m.moderators), bans, mutes, restricted };
}

export class RoomAccess {
  readonly #rooms = new Map<string, Room>();
  readonly #rules = new Map<string, RoomRules>();
  readonly #loading = new Map<string, Promise<RoomRules>>();
  /** The name keys of ADMINS. */
  readonly #admins: ReadonlySet<string>;

  constructor(
    private readonly store: Store,
    /** ADMINS, as configured. */
    readonly adminNames: readonly string[] = [],
  ) {
    this.#admins = new Set(adminNames.map(nameKey));
  }

  /** Whether the user is an admin: a registered account named in ADMINS. */
  isAdmin(user: Actor): boolean {
    return !user.guest && this.#admins.size > 0 && this.#admins.has(nameKey(user.name));
  }

  /** The room, or not_found. */
  async room(name: string): Promise<Room> {
    const cached = this.#rooms.get(name);
    if (cached) return cached;
    const room = await this.store.getRoom(name);
    if (!room) throw noSuchRoom(name);
    this.#rooms.set(name, room);
    return room;
  }

  /** The room's moderators, bans and mutes (cached until a moderation event). A DM has none. */
  async rules(name: string): Promise<RoomRules> {
    const room = await this.room(name);
    if (room.direct) return NO_RULES;
    // Read again when a moderation event came while it was read: what was read may predate it.
    for (let attempt = 0; ; attempt++) {
      const cached = this.#rules.get(name);
      if (cached) return cached;
      let loading = this.#loading.get(name);
      if (!loading) {
        const started = this.store.roomModeration(name, Date.now()).then(toRules);
        loading = started;
        this.#loading.set(name, started);
        started.then(
          (rules) => {
            if (this.#loading.get(name) !== started) return;
            this.#loading.delete(name);
            this.#rules.set(name, rules);
          },
          () => {
            if (this.#loading.get(name) === started) this.#loading.delete(name);
          },
        );
      }
      const rules = await loading;
      if (this.#rules.get(name) === rules || attempt >= 2) return rules;
    }
  }

  /** The room's rules changed (a moderation event): read them again when next needed. */
  forget(room: string): void {
    this.#rules.delete(room);
    this.#loading.delete(room);
  }

  /** Events may have been missed (the broker was away): read every room's rules again. */
  forgetAll(): void {
    this.#rules.clear();
    this.#loading.clear();
  }

  /**
   * The room, when the user may read it (and, with `post`, post in it); not_found for a private
   * room they are not in, banned or muted otherwise.
   */
  async check(user: PresenceUser, name: string, post = false): Promise<Room> {
    const room = await this.room(name);
    if (room.private && !(await this.store.isMember(name, user.id))) throw noSuchRoom(name);
    this.#checkRules(await this.rules(name), user.id, name, post);
    return room;
  }

  #checkRules(rules: RoomRules, userId: number, name: string, post: boolean): void {
    const now = Date.now();
    if (inForce(rules.bans, userId, now)) throw new ChatError('banned', `you are banned from "${name}"`);
    if (post && inForce(rules.mutes, userId, now)) throw new ChatError('muted', `you are muted in "${name}": you may read it, not post`);
  }

  /**
   * Whether the connection may use the room (and, with `post`, post in it), known without waiting:
   * a cached public room or one allowed before, whose rules are cached and do not keep the user out.
   */
  mayUse(conn: AccessHolder, name: string, post = false): boolean {
    const room = this.#rooms.get(name);
    if (room === undefined ? !conn.allows(name) : room.private && !conn.allows(name)) return false;
    if (room?.direct) return true;
    const rules = this.#rules.get(name);
    if (rules === undefined) return false;
    const id = conn.user.id;
    return !inForce(rules.bans, id) && !(post && inForce(rules.mutes, id));
  }

  /** Resolves when the connection may use the room (remembering a private one); rejects otherwise. */
  async allow(conn: AccessHolder, name: string, post = false): Promise<void> {
    if (this.mayUse(conn, name, post)) return;
    const room = conn.allows(name) ? await this.room(name) : await this.check(conn.user, name, post);
    if (room.private) conn.allow(name);
    this.#checkRules(await this.rules(name), conn.user.id, name, post);
  }

  /** The user's role in the room: an admin everywhere but in DMs, which have no moderators. */
  async roleOf(user: Actor, room: Room): Promise<RoomRole> {
    if (room.direct) return 'member';
    if (this.isAdmin(user)) return 'admin';
    if (room.createdBy === user.id) return 'owner';
    return (await this.rules(room.name)).moderators.has(user.id) ? 'moderator' : 'member';
  }

  /** Whether the user may delete others' messages in the room, and not only their own: its moderators, owner and admins. */
  async mayDeleteAnyMessage(user: Actor, room: Room): Promise<boolean> {
    return (await this.roleOf(user, room)) !== 'member';
  }

  /** The DM room of two users, made on first use. */
  async directRoom(from: PresenceUser, to: number): Promise<Room> {
    if (to === from.id) throw new ChatError('bad_request', 'a direct message needs another user');
    if (!(await this.store.getUser(to))) throw new ChatError('not_found', `no user with id ${to}`);
    const room = await this.store.ensureDirectRoom(from.id, to);
    this.#rooms.set(room.name, room);
    return room;
  }
}

/** What a missing room, and a private room to a non-member, are answered with: the same words. */
export function noSuchRoom(name: string): ChatError {
  return new ChatError('not_found', `no room "${name}"`);
}
