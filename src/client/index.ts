/**
 * The Parley client SDK, for browsers and Node: `ParleyClient` (chat over WebSocket with reconnect,
 * replay and retry) and the HTTP helpers. docs/client.md describes it with an example.
 */
export { ParleyClient, ParleyError } from './client.js';
export type { ClientEvents, ClientState, ParleyClientOptions, StateChange } from './client.js';
export {
  ParleyHttpError,
  addMember,
  createRoom,
  fetchMessages,
  findUsers,
  listRooms,
  logout,
  me,
  signIn,
} from './http.js';
export type { RoomInfo, Session } from './http.js';
export { backoffDelay, DEFAULT_MAX_DELAY_MS, DEFAULT_MIN_DELAY_MS } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { httpBaseUrl, webSocketUrl } from './url.js';
export type { WebSocketConstructor, WebSocketLike } from './transport.js';
export type { Ack, ChatMessage, ClientFrame, ErrorCode, SelfUser, ServerFrame, WelcomeFrame, WireUser } from './types.js';
