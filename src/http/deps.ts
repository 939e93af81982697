import type { Logger } from 'pino';
import type { SignInLimiter } from '../broker/types.js';
import type { Metrics } from '../metrics.js';
import type { ChatService } from '../realtime/service.js';
import type { BlockList } from 'node:net';
import type { Store } from '../store/types.js';

/** The settings the HTTP API follows (from the server's config). */
export interface HttpSettings {
  /** Addresses whose forwarding headers (X-Forwarded-For, -Proto) are believed. */
  trustProxy: BlockList;
  /** Whether this node itself serves TLS. */
  tls: boolean;
  sessionTtlMs: number;
  /** Whether name-only guest sign-in is allowed. */
  guests: boolean;
  /** The longest message text in characters (MAX_TEXT), told to clients by /api/session. */
  maxText: number;
  /** This node's name (NODE_ID), told by /readyz. */
  nodeId: string;
}

/** Everything the HTTP API needs, handed in by the composition root. */
export interface HttpDeps {
  settings: HttpSettings;
  store: Store;
  chat: ChatService;
  /** Sign-in attempts per client address (SIGNIN_RATE), on this node or shared by every node. */
  signInLimiter: SignInLimiter;
  /** Signs and verifies session tokens (loadOrCreateSecret). */
  secret: string;
  logger: Logger;
  metrics: Metrics;
  /** Whether this node can serve (store and broker answer); /readyz. */
  ready: () => Promise<boolean>;
  /** Folder of the built web app (web/dist); index.html answers unknown page paths. */
  webRoot: string;
}
