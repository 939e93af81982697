/**
 * The page's state: one `reactive` object that the components read, and its types. The modules
 * beside this one change it (rooms.ts, connection.ts, session.ts, actions.ts); components call them.
 */
import { reactive } from 'vue';
import type { BannedNow, ChatMessage, WireUser } from '../../../src/client/index.js';
import type { ModerationEntry, RoomRole } from '../moderation.js';

/** A user as the server sends them: `guest: true` marks a guest. */
export type User = WireUser;
/** A user banned from a room, and until when (null: until lifted). */
export type BannedUser = BannedNow[number];
export interface Self {
  id: number;
  name: string;
  guest: boolean;
}

/** A join or leave line in the message list, placed after the message `afterId`. */
export interface PresenceLine {
  key: number;
  kind: 'join' | 'left';
  user: User;
  ts: number;
  afterId: number;
}

/** What a moderator did in the room, as a line of the message list, placed after the message `afterId`. */
export interface ModerationLine {
  key: number;
  kind: 'moderation';
  entry: ModerationEntry;
  ts: number;
  afterId: number;
}

export type RoomLine = PresenceLine | ModerationLine;

/** A ban or mute of the user: by whom when known, until when (null: until lifted; undefined: not known). */
export interface Restriction {
  by?: string;
  until?: number | null;
}

/** A message typed here and not acknowledged yet (or refused). */
export interface PendingMessage {
  key: number;
  text: string;
  ts: number;
  status: 'pending' | 'failed';
  /** The id of the message it answers. */
  reply?: number;
  error?: string;
  /** The server's error code when it refused the message (`too_large`, `forbidden`…). */
  code?: string;
}

export interface RoomView {
  name: string;
  private: boolean;
  direct: boolean;
  /** Shown in the sidebar and subscribed. */
  member: boolean;
  /** Known to exist on the server (a DM room exists only after its first message). */
  exists: boolean;
  messages: ChatMessage[];
  lines: RoomLine[];
  pending: PendingMessage[];
  online: User[];
  /**
   * `online` is the last list known: the connection was lost since, and the room's `list` has not
   * come again. Who is here meanwhile is not known, but nobody is known to have left either.
   */
  onlineStale: boolean;
  typing: Record<number, { name: string; until: number }>;
  /** Highest id (of a message or an event) known to exist in the room. */
  latestId: number;
  /** The user's read marker (the server's, agreed across tabs and devices): everything up to it is read. */
  lastRead: number;
  /** The page holds every message of the room from this id on (Infinity: none yet). */
  completeFrom: number;
  /** Messages the server said name the user (`mention`), loaded here or not. */
  mentionIds: number[];
  /**
   * Where the "new messages" divider goes in this visit of the room: after this id; null for no
   * divider; undefined until the room is first shown (then it is the read marker, if anything was unread).
   */
  divider: number | null | undefined;
  /** The message the composer answers. */
  replyTo: number | undefined;
  /** A message to bring into view (a quote or a search result clicked); `ready` once it is loaded. */
  focus: { id: number; seq: number; ready: boolean } | undefined;
  /** The message shown highlighted for a moment after it was brought into view. */
  flashId: number | undefined;
  /** The latest page of history has been fetched. */
  loaded: boolean;
  /** Older messages exist on the server. */
  more: boolean;
  loadingOlder: boolean;
  /** The server said some of the room's older messages are gone. */
  gap: boolean;
  /** The server's history of the room went back to this id (restored or reset): later ones shown before are gone. */
  rewoundTo: number | undefined;
  /** The text in the message box; kept across room switches and disconnects. */
  draft: string;
  /** The room's owner and moderators by user id (from its list and moderation frames). */
  roles: Record<number, RoomRole>;
  /** Who is muted in the room, by user id: until when (null: until lifted). */
  mutes: Record<number, number | null>;
  /**
   * Who is banned from the room now, by user id, with their name and until when (null: until
   * lifted): told to those who moderate it by its list (or GET /api/rooms/:room/bans), kept current
   * by moderation frames. Empty for a member, whom the server does not tell.
   */
  bans: Record<number, BannedUser>;
  /** A moderator took the user out of the room (kicked): by whom. */
  removedBy: string | undefined;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export const DEFAULT_ROOM = 'lobby';
/** The server's documented default MAX_TEXT: used only until GET /api/session tells the real one. */
const DEFAULT_MAX_TEXT = 4000;

export const state = reactive({
  /** 'banned': an admin banned the account from the server (its connection closed with 4003). */
  phase: 'loading' as 'loading' | 'signin' | 'chat' | 'banned',
  me: null as Self | null,
  connection: 'connecting' as ConnectionState,
  reconnectDelayMs: 0,
  rooms: {} as Record<string, RoomView>,
  current: DEFAULT_ROOM,
  /** Names of users seen anywhere, by id (for DM titles). */
  names: {} as Record<number, string>,
  notice: '' as string,
  /** Which side panel is open on a narrow screen. */
  panel: 'none' as 'none' | 'rooms' | 'users',
  signInMessage: '' as string,
  /** The most characters (code points) a message may have: the server's MAX_TEXT. */
  maxText: DEFAULT_MAX_TEXT,
  /** The message being edited in place, if any. */
  editing: null as { room: string; id: number } | null,
  /** The message whose emoji picker is open, if any. */
  picking: null as { room: string; id: number } | null,
  /** The message list is scrolled to its end: what comes in is seen (and read). */
  atBottom: true,
  /** The search panel is open in place of the messages. */
  searching: false,
  /** Notification.permission, mirrored so the page can offer to ask for it. */
  notifications: 'default' as NotificationPermission | 'unsupported',
  /** An admin (ADMINS): moderates every room but DMs. */
  admin: false,
  /** The name keys of the server's admins (the welcome's `admins`): registered accounts of these names are admins. */
  adminKeys: [] as string[],
  /** The rooms the user owns or moderates (the welcome's, kept up to date by lists and role frames). */
  myRoles: {} as Record<string, RoomRole>,
  /** The rooms the user is muted in, and banned from. */
  myMutes: {} as Record<string, Restriction>,
  myBans: {} as Record<string, Restriction>,
  /** The person whose moderation menu is open. */
  moderating: null as { room: string; user: User } | null,
  /** The audit log dialog is open (for the current room). */
  auditOpen: false,
  /** The time, ticking every second while in the chat: countdowns of mutes and bans. */
  now: Date.now(),
});

/** The page's origin: the server the page came from serves the API and the WebSocket too. */
export const origin = typeof location === 'undefined' ? 'http://localhost' : location.origin;
