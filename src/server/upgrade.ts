/**
 * Upgrade routing: every WebSocket handshake on the port comes here. A refusal is a plain HTTP
 * response written before any 101 (401 no session, 403 origin, 404 path, 503 full); nothing is
 * accepted and closed afterwards.
 */
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { resolveSession, tokenFromRequest } from '../auth/session.js';
import type { Metrics } from '../metrics.js';
import { clientIp } from '../net/client-ip.js';
import { requestHost } from '../net/request-host.js';
import { requestScheme } from '../net/request-scheme.js';
import { refuseRequestLine } from '../net/request-target.js';
import { serveEcho } from '../realtime/echo.js';
import type { ChatHub } from '../realtime/hub.js';
import type { Store } from '../store/types.js';
import type { Config } from './config.js';
import { originAllowed } from './origin.js';
import { answerAsPlainHttp } from './plain-upgrade.js';
import { endWithError } from './raw-response.js';
import { wireUser } from '../protocol/frames.js';

export interface UpgradeDeps {
  /** The HTTP app, for requests whose Upgrade is not websocket. */
  http: RequestListener;
  config: Config;
  store: Store;
  hub: ChatHub;
  secret: string;
  logger: Logger;
  metrics: Metrics;
}

/** Answers an upgrade with an HTTP error, counted and logged. */
type Refuse = (status: number, code: string, message: string) => void;

export class UpgradeRouter {
  readonly #wss: WebSocketServer;
  /** Echo connections, to close at shutdown (the hub keeps the chat connections). */
  readonly #echo = new Set<WebSocket>();
  /** Upgrades past the limit check that are not connections yet (their session is being looked up). */
  #pending = 0;
  #accepting = true;

  constructor(private readonly deps: UpgradeDeps) {
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.config.maxPayload,
      // Off: frames are encoded once and shared by every receiver.
      perMessageDeflate: false,
      // The hub and #echo already know every connection: ws's own set would cost each one another
      // close listener (a closure and its context) for nothing.
      clientTracking: false,
    });
  }

  /** Open WebSocket connections, and upgrades on their way to becoming one. */
  get connections(): number {
    return this.deps.hub.connectionCount + this.#echo.size + this.#pending;
  }

  /** New handshakes are refused with 503 from now on (shutdown). */
  stopAccepting(): void {
    this.#accepting = false;
  }

  handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroySocket);
    const refusal = refuseRequestLine(req);
    if (refusal !== undefined) return endWithError(socket, 400, 'bad_request', refusal);
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return answerAsPlainHttp(req, socket, head, this.deps.http);
    this.#route(req, socket, head).catch((err: unknown) => {
      this.deps.logger.error({ err }, 'upgrade failed');
      endWithError(socket, 500, 'internal', 'the server failed to handle the upgrade');
    });
  };

  async #route(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { config, logger, metrics } = this.deps;
    const ip = clientIp(req.socket.remoteAddress, req.headers, config.trustProxy);
    const path = new URL(req.url ?? '/', 'http://parley').pathname;
    const refuseWith: Refuse = (status, code, message) => {
      metrics.upgradesRefused.inc({ status: String(status) });
      logger.info({ ip, path, status }, `upgrade refused: ${message}`);
      endWithError(socket, status, code, message);
    };
    if (path !== '/ws/chat' && path !== '/ws/echo') return refuseWith(404, 'not_found', `no WebSocket endpoint at ${path}`);
    if (req.method !== 'GET') return refuseWith(405, 'method_not_allowed', 'a WebSocket handshake is a GET request');
    if (!this.#accepting) return refuseWith(503, 'unavailable', 'the server is shutting down');
    if (this.connections >= config.maxConnections) return refuseWith(503, 'unavailable', 'the server is at its connection limit');
    // Echo needs no session: without a share of its own, anyone could fill the server's limit with
    // echo sockets and lock the chat's users out.
    if (path === '/ws/echo' && this.#echo.size >= echoLimit(config.maxConnections)) {
      return refuseWith(503, 'unavailable', 'the echo endpoint is at its connection limit');
    }
    // The place is held from the check on: the session lookup is async, and a burst of upgrades
    // would all pass the check meanwhile. handleUpgrade calls back synchronously, so once #accept
    // is done the upgrade is either a connection that counts itself or nothing.
    this.#pending++;
    try {
      await this.#accept(req, socket, head, path, ip, refuseWith);
    } finally {
      this.#pending--;
    }
  }

  async #accept(req: IncomingMessage, socket: Duplex, head: Buffer, path: string, ip: string, refuseWith: Refuse): Promise<void> {
    const { config, logger } = this.deps;
    if (path === '/ws/echo') {
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        socket.off('error', destroySocket);
        this.#echo.add(ws);
        this.deps.metrics.echoConnections.set(this.#echo.size);
        ws.once('close', () => {
          this.#echo.delete(ws);
          this.deps.metrics.echoConnections.set(this.#echo.size);
        });
        serveEcho(ws, ip, logger);
      });
      return;
    }

    const scheme = requestScheme(req, config.tls !== undefined, config.trustProxy);
    if (!originAllowed(req.headers.origin, config.allowedOrigins, scheme, requestHost(req, config.trustProxy))) {
      return refuseWith(403, 'forbidden', `origin ${req.headers.origin} is not allowed`);
    }
    // One store read: the session, with its user.
    const session = await resolveSession(this.deps.store, this.deps.secret, req.headers, req.url);
    if (!session) {
      const message = tokenFromRequest(req.headers, req.url) ? 'session is invalid, ended or expired' : 'sign in first: no session token';
      return refuseWith(401, 'unauthorized', message);
    }
    if (socket.destroyed) return;
    const { user } = session;
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      // From here ws handles the socket's errors itself.
      socket.off('error', destroySocket);
      void this.deps.hub.attach(ws, socket, wireUser(user), user.guest, session.id, ip);
    });
  }

  /** Closes the echo connections and the WebSocket server; the hub closes the chat connections. */
  close(): void {
    for (const ws of this.#echo) ws.terminate();
    this.#wss.close();
  }
}

/** Echo connections allowed at once: a tenth of MAX_CONNECTIONS (at least one). */
export function echoLimit(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 10));
}

/** A socket error during or after the handshake: drop the socket (the close handlers clean up). */
function destroySocket(this: Duplex): void {
  this.destroy();
}
