/**
 * Moderation in `parley chat`: the commands (/kick, /ban, /unban, /mute, /unmute, /op, /deop) on the
 * current room, and the lines for the kicked, banned and moderation events. Kept apart from the
 * session's own commands: the session hands it the command and the client.
 */
import type { ClientEvents, ParleyClient, WireUser } from '../client/index.js';
import { MAX_MODERATION_MINUTES } from '../protocol/frames.js';
import { clock } from './chat-format.js';
import type { Output } from './chat-output.js';
import { ParleyError } from '../client/index.js';
import { describeError } from './errors.js';

export type ModerationAction = 'kick' | 'ban' | 'unban' | 'mute' | 'unmute' | 'op' | 'deop';

export interface ModerationCommand {
  kind: 'moderate';
  action: ModerationAction;
  /** A user name (of the room, or seen before) or a user id. */
  target: string;
  minutes?: number;
}

export const MODERATION_COMMANDS_HELP = [
  '/kick USER            put USER out of the current room (you moderate it)',
  '/ban USER [MINUTES]   ban USER from the current room, for MINUTES or until /unban',
  '/unban USER           lift the ban',
  '/mute USER [MINUTES]  USER may read the current room, not post, for MINUTES or until /unmute',
  '/unmute USER          lift the mute',
  '/op USER, /deop USER  make USER a moderator of the current room, or a member again (its owner)',
];

const TIMED: ReadonlySet<string> = new Set(['ban', 'mute']);
const ACTIONS: ReadonlySet<string> = new Set(['kick', 'ban', 'unban', 'mute', 'unmute', 'op', 'deop']);

/** The command `/name words…`, if it is one of moderation: undefined for any other name. */
export function parseModerationCommand(name: string, words: string[]): ModerationCommand | { kind: 'invalid'; message: string } | undefined {
  if (!ACTIONS.has(name)) return undefined;
  const action = name as ModerationAction;
  const usage = { kind: 'invalid' as const, message: TIMED.has(name) ? `usage: /${name} USER [MINUTES], MINUTES from 1 to ${MAX_MODERATION_MINUTES}` : `usage: /${name} USER` };
  const [target, minutes, extra] = words;
  if (target === undefined || extra !== undefined || (minutes !== undefined && !TIMED.has(name))) return usage;
  if (minutes === undefined) return { kind: 'moderate', action, target };
  const n = Number(minutes);
  if (!/^[0-9]+$/.test(minutes) || n < 1 || n > MAX_MODERATION_MINUTES) return usage;
  return { kind: 'moderate', action, target, minutes: n };
}

const until = (ts: number | undefined) => (ts === undefined ? '' : ` until ${clock(ts)}`);

const DONE: Record<string, string> = { kick: 'kicked', ban: 'banned', unban: 'unbanned', mute: 'muted', unmute: 'unmuted', delete: 'deleted a message of' };

/** A moderation event as a line: `* mia muted sam in lobby until 12:40`. */
export function formatModeration(e: ClientEvents['moderation'], label: (room: string) => string): string {
  if (e.action === 'role') return `* ${e.by.name} made ${e.user.name} ${e.role === 'moderator' ? 'a moderator' : 'a member'} of ${label(e.room)}`;
  return `* ${e.by.name} ${DONE[e.action]} ${e.user.name} in ${label(e.room)}${until(e.until)}`;
}

export interface ChatModerationDeps {
  client: ParleyClient;
  out: Output;
  /** The current room, if any. */
  room(): string | undefined;
  /** The user id a name or id names (see KnownUsers.resolve). */
  resolve(target: string, members: WireUser[]): number | undefined;
  label(room: string): string;
  problem(code: string, message: string, extra?: object): void;
  /** What quitting waits for. */
  track(p: Promise<unknown>): void;
}

export class ChatModeration {
  constructor(private readonly deps: ChatModerationDeps) {}

  /** Shows the client's moderation events. */
  listen(): void {
    const { client, out, label } = this.deps;
    client.on('kicked', (e) => out.event({ type: 'kicked', ...e }, `! ${e.by.name} kicked you out of ${label(e.room)}`));
    client.on('banned', (e) =>
      out.event({ type: 'banned', ...e }, `! ${e.by.name} banned you from ${label(e.room)}${e.until === undefined ? ' until lifted' : until(e.until)}`),
    );
    client.on('moderation', (e) => out.event({ ...e }, formatModeration(e, label)));
  }

  run(cmd: ModerationCommand): void {
    const { client, out } = this.deps;
    const room = this.deps.room();
    if (!room) return this.deps.problem('no_room', 'join a room first: /join ROOM');
    const user = this.deps.resolve(cmd.target, client.members(room));
    if (user === undefined) return this.deps.problem('unknown_user', `no user named ${cmd.target} here (try /who, or give the user id)`);
    const timed = cmd.minutes === undefined ? {} : { minutes: cmd.minutes };
    const sent =
      cmd.action === 'kick' ? client.kick(room, user)
      : cmd.action === 'ban' ? client.ban(room, user, timed)
      : cmd.action === 'unban' ? client.unban(room, user)
      : cmd.action === 'mute' ? client.mute(room, user, timed)
      : cmd.action === 'unmute' ? client.unmute(room, user)
      : client.setRole(room, user, cmd.action === 'op' ? 'moderator' : 'member');
    this.deps.track(
      sent.then(
        // The room's moderation line says what was done; scripts get the ack.
        (ack) => out.event({ type: 'moderated', action: cmd.action, room, user, ts: ack.ts }, null),
        (err: unknown) => this.deps.problem(err instanceof ParleyError ? err.code : 'failed', `/${cmd.action} ${cmd.target}: ${describeError(err)}`, { room, user }),
      ),
    );
  }
}
