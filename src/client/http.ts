/**
 * The HTTP helpers of the SDK: sign-in, the current user, sign-out and the room API. They use
 * fetch with `credentials: 'include'`, so in a browser the session cookie is set and sent; in Node
 * they return the token, which the client then sends as `Authorization: Bearer`.
 */
import { httpBaseUrl } from './url.js';
import type { ChatMessage, SelfUser, ServerFrame, TimelineEventFrame } from './types.js';

/** An HTTP error of the API: the status and the stable `code` of `{error: {code, message}}`. */
export class ParleyHttpError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ParleyHttpError';
    this.status = status;
    this.code = code;
  }
}

export interface Session {
  user: SelfUser;
  token: string;
}

export interface RoomInfo {
  name: string;
  private: boolean;
  direct: boolean;
  lastId: number;
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  token?: string;
}

async function request<T>(baseUrl: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(httpBaseUrl(baseUrl) + path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: 'include',
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    throw new ParleyHttpError(
      res.status,
      typeof err?.code === 'string' ? err.code : `http_${res.status}`,
      typeof err?.message === 'string' ? err.message : `${res.status} ${res.statusText}`.trim(),
    );
  }
  return json as T;
}

/** Sign-in: each returns the user and the session token (and sets the cookie in a browser). */
export const signIn = {
  /** The name-only sign-in of a guest. */
  guest: (baseUrl: string, name: string) => request<Session>(baseUrl, '/api/guest', { method: 'POST', body: { name } }),
  /** Creates an account. */
  register: (baseUrl: string, name: string, password: string) =>
    request<Session>(baseUrl, '/api/register', { method: 'POST', body: { name, password } }),
  login: (baseUrl: string, name: string, password: string) =>
    request<Session>(baseUrl, '/api/login', { method: 'POST', body: { name, password } }),
};

/** The signed-in user, or null when the session is missing or no longer valid (401). */
export async function me(baseUrl: string, token?: string): Promise<SelfUser | null> {
  try {
    const res = await request<{ user: SelfUser }>(baseUrl, '/api/me', { token });
    return res.user;
  } catch (err) {
    if (err instanceof ParleyHttpError && err.status === 401) return null;
    throw err;
  }
}

/** Ends the session and clears the cookie. */
export async function logout(baseUrl: string, token?: string): Promise<void> {
  await request<void>(baseUrl, '/api/logout', { method: 'POST', token });
}

/** The rooms the user can see, with the last id of each. */
export async function listRooms(baseUrl: string, token?: string): Promise<RoomInfo[]> {
  return (await request<{ rooms: RoomInfo[] }>(baseUrl, '/api/rooms', { token })).rooms;
}

/** Creates a room (409 when it exists). */
export async function createRoom(baseUrl: string, name: string, options: { private?: boolean; token?: string } = {}) {
  const body = options.private === undefined ? { name } : { name, private: options.private };
  return (await request<{ room: RoomInfo }>(baseUrl, '/api/rooms', { method: 'POST', body, token: options.token })).room;
}

/** Adds a user to a private room. */
export async function addMember(baseUrl: string, room: string, userId: number, token?: string): Promise<void> {
  await request(baseUrl, `/api/rooms/${encodeURIComponent(room)}/members`, {
    method: 'POST',
    body: { user: userId },
    token,
  });
}

/** Users whose name starts with `prefix` (case aside), registered accounts first: up to `limit` (1-50, default 20). */
export async function findUsers(baseUrl: string, prefix: string, options: { limit?: number; token?: string } = {}): Promise<SelfUser[]> {
  const limit = options.limit === undefined ? '' : `&limit=${options.limit}`;
  return (await request<{ users: SelfUser[] }>(baseUrl, `/api/users?q=${encodeURIComponent(prefix)}${limit}`, { token: options.token })).users;
}


/**
 * Stored messages of a room, oldest first, in their current state (edits, deletions and reactions
 * folded in), as history() gives them: the `limit` (1-100, default 50) before id `before`.
 * `lastId`: the room's newest id when the page was read (give the page to a Timeline).
 */
export async function fetchMessages(
  baseUrl: string,
  room: string,
  query: { before?: number; limit?: number; token?: string } = {},
): Promise<{ room: string; data: ChatMessage[]; more: boolean; lastId: number }> {
  return request(baseUrl, messagesPath(room, query), { token: query.token });
}

/**
 * A catch-up over HTTP: the room's messages and its edit, delete and react events after id `after`,
 * in id order (up to `limit`, 1-100; `more` when there are more). `gap` is true when some of them are
 * no longer kept. Apply each to a Timeline, as the client's events.
 */
export async function fetchTimeline(
  baseUrl: string,
  room: string,
  query: { after: number; limit?: number; token?: string },
): Promise<{ room: string; data: Array<ChatMessage | TimelineEventFrame>; more: boolean; gap?: boolean }> {
  return request(baseUrl, messagesPath(room, query), { token: query.token });
}

function messagesPath(room: string, query: { before?: number; after?: number; limit?: number }): string {
  const params = new URLSearchParams();
  if (query.before !== undefined) params.set('before', String(query.before));
  if (query.after !== undefined) params.set('after', String(query.after));
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  const qs = params.size > 0 ? `?${params}` : '';
  return `/api/rooms/${encodeURIComponent(room)}/messages${qs}`;
}

/**
 * Finds messages by words in the rooms the user can read (or in `room`), newest first, as the
 * client's search() does; for the next page pass `before` = the `ts` of the oldest message.
 */
export async function searchMessages(
  baseUrl: string,
  q: string,
  query: { room?: string; before?: number; limit?: number; token?: string } = {},
): Promise<{ q: string; data: ChatMessage[]; more: boolean }> {
  const params = new URLSearchParams({ q });
  if (query.room !== undefined) params.set('room', query.room);
  if (query.before !== undefined) params.set('before', String(query.before));
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  return request(baseUrl, `/api/search?${params}`, { token: query.token });
}

/** What a moderation action did, as the server logged it: the room's `moderation` frame, without its type (an audit entry has no `room` either). */
export type ModerationRecord = Omit<Extract<ServerFrame, { type: 'moderation' }>, 'type'>;

/** Who is banned from a room now (the `banned` of its `list` frame): each user, and until when (null: until lifted). */
export type BannedNow = NonNullable<Extract<ServerFrame, { type: 'list' }>['banned']>;

/** The moderation endpoints of a room (its moderators, owner and admins); `user` is a user id. */
export const moderation = {
  kick: (baseUrl: string, room: string, user: number, token?: string) =>
    request<ModerationRecord>(baseUrl, `${roomPath(room)}/members/${user}`, { method: 'DELETE', token }),
  /** For `minutes`, or until lifted. */
  ban: (baseUrl: string, room: string, user: number, options: { minutes?: number; token?: string } = {}) =>
    request<ModerationRecord>(baseUrl, `${roomPath(room)}/bans/${user}`, { method: 'POST', body: minutesBody(options), token: options.token }),
  unban: (baseUrl: string, room: string, user: number, token?: string) =>
    request<ModerationRecord>(baseUrl, `${roomPath(room)}/bans/${user}`, { method: 'DELETE', token }),
  mute: (baseUrl: string, room: string, user: number, options: { minutes?: number; token?: string } = {}) =>
    request<ModerationRecord>(baseUrl, `${roomPath(room)}/mutes/${user}`, { method: 'POST', body: minutesBody(options), token: options.token }),
  unmute: (baseUrl: string, room: string, user: number, token?: string) =>
    request<ModerationRecord>(baseUrl, `${roomPath(room)}/mutes/${user}`, { method: 'DELETE', token }),
  setRole: (baseUrl: string, room: string, user: number, role: 'moderator' | 'member', token?: string) =>
    request<ModerationRecord>(baseUrl, `${roomPath(room)}/roles/${user}`, { method: 'PUT', body: { role }, token }),
  /** The room's audit log, newest first (up to `limit`, 1-1000, default 100). */
  audit: async (baseUrl: string, room: string, options: { limit?: number; token?: string } = {}) =>
    (await request<{ data: Array<Omit<ModerationRecord, 'room'>> }>(baseUrl, `${roomPath(room)}/audit${options.limit === undefined ? '' : `?limit=${options.limit}`}`, { token: options.token })).data,
  /** Who is banned from the room now, however old the ban: `until` null is until lifted. */
  bans: async (baseUrl: string, room: string, token?: string) =>
    (await request<{ data: BannedNow }>(baseUrl, `${roomPath(room)}/bans`, { token })).data,
  /** An admin bans a user from the whole server (`banned` false lifts it). */
  banEverywhere: async (baseUrl: string, user: number, banned = true, token?: string) =>
    (await request<{ user: { id: number; name: string }; banned: boolean }>(baseUrl, `/api/users/${user}/ban`, { method: banned ? 'POST' : 'DELETE', token })).user,
};

const roomPath = (room: string) => `/api/rooms/${encodeURIComponent(room)}`;
const minutesBody = (options: { minutes?: number }) => (options.minutes === undefined ? undefined : { minutes: options.minutes });
