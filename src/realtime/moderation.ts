/**
 * Moderation: who may do what to whom in a room (the limits on power), storing each action with its
 * audit entry, and telling every node (ROOMS_CHANNEL) so that each takes the user's connections out
 * of the room, forgets the room's cached rules and tells the room. A refusal changes nothing.
 */
import type { Logger } from 'pino';
import { ROOMS_CHANNEL, type Broker, type ModerationEvent, type PresenceUser } from '../broker/types.js';
import { wireUser, type GivenRole, type RoomRole } from '../protocol/frames.js';
import type { AuditRecord, ModerationAction, Room, Store, User } from '../store/types.js';
import { type Actor, bannedNow, type BannedNow, inForce, noSuchRoom, type RoomAccess } from './access.js';
import { ChatError } from './errors.js';

/** A user as the store or a connection has them (guest a boolean, or only when true). */
type UserLike = Parameters<typeof wireUser>[0];

/** A moderation action as a client asks for it (over WebSocket or HTTP). */
export interface ModerationRequest {
  action: Exclude<ModerationAction, 'delete'>;
  room: string;
  /** Whom it concerns. */
  user: number;
  /** ban and mute: for this many minutes; absent: until lifted. */
  minutes?: number;
  /** role: the role to give. */
  role?: GivenRole;
  /** The client's id of the action: a retry with the same one is answered again, not applied again. */
  cid?: string;
}

/** The most entries an audit page gives. */
export const AUDIT_PAGE_MAX = 1000;

const VERB: Record<ModerationRequest['action'], string> = {
  kick: 'kick',
  ban: 'ban',
  unban: 'unban',
  mute: 'mute',
  unmute: 'unmute',
  role: 'change the role of',
};

export class Moderation {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly broker: Broker,
    private readonly log: Logger,
  ) {}

  /**
   * Applies the action if the actor may, and tells every node. Refused with not_found (no such
   * room, a private room the actor is not in, no such user, nothing to lift, a role the user has)
   * or forbidden (why). A retry of an action already applied (its `cid` again) gets the first one's
   * answer, and nothing is applied, logged or announced again: a kick retried after the user came
   * back does not kick them again.
   */
  async act(actor: Actor, request: ModerationRequest): Promise<ModerationEvent> {
    const room = await this.#moderatedRoom(actor, request.room);
    const power = await this.access.roleOf(actor, room);
    if (request.action === 'role' && power !== 'owner' && power !== 'admin') {
      throw new ChatError('forbidden', `only the owner of "${room.name}" or an admin gives roles`);
    }
    const target = await this.store.getUser(request.user);
    if (!target) throw new ChatError('not_found', `no user with id ${request.user}`);
    const verb = VERB[request.action];
    if (target.id === actor.id) throw new ChatError('forbidden', `you cannot ${verb} yourself`);
    const targetRole = await this.#mayActOn(power, target, room, verb);
    if (request.action === 'role' && targetRole === 'owner') {
      throw new ChatError('forbidden', `${target.name} owns "${room.name}": the owner's role cannot be changed`);
    }
    const ts = Date.now();
    const until = request.minutes === undefined ? undefined : ts + request.minutes * 60_000;
    const entry = { room: room.name, action: request.action, user: target.id, by: actor.id, ts, until, role: request.role, cid: request.cid };
    const outcome = await this.store.moderate(entry);
    // The first one's answer (its ts, until and role), told to nobody again.
    if (outcome.kind === 'duplicate') return this.#event({ ...outcome, room: room.name, action: request.action }, target, actor);
    // Like an unban of someone not banned: nothing to do, so nothing logged nor announced.
    if (outcome.kind === 'unchanged') throw new ChatError('not_found', nothingToDo(request, target, room));
    const event = this.#event(entry, target, actor);
    this.log.info({ room: room.name, action: request.action, user: target.id, by: actor.id, until }, 'moderation');
    await this.#publish(event);
    return event;
  }

  /** Records that a moderator, owner or admin deleted someone else's message, and tells the room. */
  async deleted(actor: PresenceUser, room: string, author: PresenceUser): Promise<void> {
    const entry = { room, action: 'delete' as const, user: author.id, by: actor.id, ts: Date.now() };
    await this.store.moderate(entry);
    await this.#publish(this.#event(entry, author, actor));
  }

  /** The room's audit log, for its moderators, owner and admins. */
  async audit(actor: Actor, name: string, limit: number): Promise<AuditRecord[]> {
    const room = await this.#moderatedRoom(actor, name);
    if ((await this.access.roleOf(actor, room)) === 'member') throw notModerator(room);
    return this.store.auditLog(room.name, Math.min(limit, AUDIT_PAGE_MAX));
  }

  /** Who is banned from the room now, for its moderators, owner and admins (from the cached rules). */
  async bans(actor: Actor, name: string): Promise<BannedNow> {
    await this.#moderatedRoom(actor, name);
    return bannedNow(await this.access.rules(name));
  }

  /**
   * Bans the user everywhere (or lifts it), when the actor is an admin; an admin cannot be banned.
   * Resolves the user; the caller closes their connections.
   */
  async banEverywhere(actor: Actor, userId: number, banned: boolean): Promise<User> {
    if (!this.access.isAdmin(actor)) throw new ChatError('forbidden', 'only an admin bans users everywhere');
    const target = await this.store.getUser(userId);
    if (!target) throw new ChatError('not_found', `no user with id ${userId}`);
    if (target.id === actor.id) throw new ChatError('forbidden', 'you cannot ban yourself');
    if (this.access.isAdmin(target)) throw new ChatError('forbidden', `${target.name} is an admin: an admin cannot be banned`);
    if (!(await this.store.setUserBanned(target.id, banned))) throw new ChatError('not_found', `no user with id ${userId}`);
    this.log.info({ user: target.id, by: actor.id, banned }, banned ? 'user banned everywhere' : 'user unbanned');
    return target;
  }

  /** The room, if the actor moderates it; an admin may act in a private room they are not in. */
  async #moderatedRoom(actor: Actor, name: string): Promise<Room> {
    const room = await this.access.room(name);
    const admin = this.access.isAdmin(actor);
    if (room.private && !admin && !(await this.store.isMember(name, actor.id))) throw noSuchRoom(name);
    if (room.direct) throw new ChatError('forbidden', 'a direct conversation has no moderators');
    // A ban keeps a moderator (or the owner) out of the room, its moderation included, until lifted.
    if (!admin && inForce((await this.access.rules(name)).bans, actor.id)) throw new ChatError('banned', `you are banned from "${name}"`);
    if ((await this.access.roleOf(actor, room)) === 'member') throw notModerator(room);
    return room;
  }

  /** The limits on power: nobody acts on an admin, only an admin on the owner, only the owner or an admin on a moderator. Gives the target's role. */
  async #mayActOn(power: RoomRole, target: User, room: Room, verb: string): Promise<RoomRole> {
    const role = await this.access.roleOf(target, room);
    if (role === 'admin') throw new ChatError('forbidden', `${target.name} is an admin: nobody can ${verb} them in a room`);
    if (role === 'owner' && power !== 'admin') throw new ChatError('forbidden', `${target.name} owns "${room.name}": only an admin can ${verb} them`);
    if (role === 'moderator' && power === 'moderator') {
      throw new ChatError('forbidden', `${target.name} is a moderator of "${room.name}": only its owner or an admin can ${verb} them`);
    }
    return role;
  }

  #event(entry: { room: string; action: ModerationAction; ts: number; until?: number; role?: GivenRole }, user: UserLike, by: UserLike): ModerationEvent {
    const event: ModerationEvent = {
      kind: 'moderation',
      room: entry.room,
      action: entry.action,
      user: wireUser(user),
      by: wireUser(by),
      ts: entry.ts,
    };
    if (entry.until !== undefined) event.until = entry.until;
    if (entry.role !== undefined) event.role = entry.role;
    return event;
  }

  /** Every node follows ROOMS_CHANNEL; a broker that is down is logged: the store has the action, and nodes read rules again when it is back. */
  async #publish(event: ModerationEvent): Promise<void> {
    try {
      await this.broker.publish(ROOMS_CHANNEL, event);
    } catch (err) {
      this.log.warn({ err, room: event.room }, 'the broker could not take a moderation event: other nodes apply it when the broker is back');
    }
  }
}

/** Why an action changed nothing: an unban or unmute of someone not banned or muted, or a role they have. */
function nothingToDo(request: ModerationRequest, target: User, room: Room): string {
  if (request.action === 'role') return `${target.name} is already ${request.role === 'moderator' ? 'a moderator' : 'a plain member'} of "${room.name}"`;
  return `${target.name} is not ${request.action === 'unban' ? 'banned from' : 'muted in'} "${room.name}"`;
}

function notModerator(room: Room): ChatError {
  return new ChatError('forbidden', `you do not moderate "${room.name}"`);
}
