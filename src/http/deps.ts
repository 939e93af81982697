import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { ChatService } from '../realtime/service.js';
import type { Config } from '../server/config.js';
import type { Store } from '../store/types.js';

/** Everything the HTTP API needs, handed in by the composition root. */
export interface HttpDeps {
  config: Config;
  store: Store;
  chat: ChatService;
  /** Signs and verifies session tokens (loadOrCreateSecret). */
  secret: string;
  logger: Logger;
  metrics: Metrics;
  /** Whether this node can serve (store and broker answer); /readyz. */
  ready: () => Promise<boolean>;
  /** Folder of the built web app (web/dist); index.html answers unknown page paths. */
  webRoot: string;
  /** Sign-in attempts (register, login, guest) allowed per client IP; defaults: a burst of 30, then 30 a minute. */
  signInLimit?: { burst: number; perMinute: number };
}
