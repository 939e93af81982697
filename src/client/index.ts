/**
 * The Parley client SDK, for browsers and Node: `ParleyClient` (chat over WebSocket with reconnect,
 * replay and retry) and the HTTP helpers. docs/client.md describes it with an example.
 */
export { ParleyClient, ParleyError } from './client.js';
export type { ClientEvents, ClientState, HistoryResult, ParleyClientOptions, SearchResult, StateChange } from './client.js';
export { foldEvent, Timeline } from './timeline.js';
export {
  ParleyHttpError,
  addMember,
  createRoom,
  fetchMessages,
  fetchTimeline,
  findUsers,
  listRooms,
  searchMessages,
  logout,
  me,
  moderation,
  signIn,
} from './http.js';
export type { BannedNow, ModerationRecord, RoomInfo, Session } from './http.js';
export { backoffDelay, DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { httpBaseUrl, webSocketUrl } from './url.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
export { isEmoji, MAX_EMOJI_LENGTH } from './types.js';
export type {
  Ack,
  ChatMessage,
  ClientFrame,
  DeleteFrame,
  EditFrame,
  ErrorCode,
  ReactFrame,
  SelfUser,
  ServerFrame,
  TimelineEventFrame,
  WelcomeFrame,
  WireUser,
} from './types.js';
