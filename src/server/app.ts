/**
 * The composition root: builds the store, broker, realtime hub, HTTP app and upgrade router from
 * the config, and serves them on one port. This is the only place that picks implementations.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { loadOrCreateSecret } from '../auth/secret.js';
import type { SignInLimiter } from '../broker/types.js';
import { createHttpApp } from '../http/app.js';
import { createMetrics } from '../metrics.js';
import { ChatHub } from '../realtime/hub.js';
import { DEFAULT_ROOM } from '../protocol/names.js';
import { RoomExistsError, type Store } from '../store/types.js';
import { backendNames, createBroker, createSignInLimiter, createStore } from './backends.js';
import type { Config } from './config.js';
import { ensureDataDir } from './data-dir.js';
import { timedStore } from './timed-store.js';
import { IDLE_COLLECTOR_DEFAULTS, startIdleCollector } from './idle-gc.js';
import { endWithError } from './raw-response.js';
import { readTlsFiles } from './tls-files.js';
import { UpgradeRouter } from './upgrade.js';

export interface ParleyServer {
  port: number;
  /** http(s)://host:port as the server listens. */
  url: string;
  logger: Logger;
  /** Graceful stop: refuse new work, close sockets with 1001, finish store writes. */
  close(): Promise<void>;
}

/** The built web app, served at `/`. */
const WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

export interface StartOptions {
  logger?: Logger;
  /** Called if the server can no longer work (its store thread died); `parley serve` exits. */
  onFatal?: (err: Error) => void;
}

export async function startParley(config: Config, options: StartOptions = {}): Promise<ParleyServer> {
  // Every line says which node wrote it: with several nodes, their logs are read side by side.
  const logger = (options.logger ?? pino({ level: config.logLevel })).child({ node: config.nodeId });
  // Before anything opens: a bad file is reported naming its setting, with nothing to close.
  const tls = config.tls && (await readTlsFiles(config.tls));
  await ensureDataDir(config.dataDir);
  const secret = await loadOrCreateSecret(config.dataDir, config.sessionSecret);
  const metrics = createMetrics(config.nodeId);
  const store = timedStore(await createStore(config, { logger, onFatal: options.onFatal }), metrics.storeSeconds);
  let backends: Awaited<ReturnType<typeof createBroker>>;
  let signInLimiter: SignInLimiter;
  try {
    await ensureDefaultRoom(store);
    backends = await createBroker(config, logger);
    signInLimiter = await createSignInLimiter(config, logger).catch(async (err: unknown) => {
      await backends.presence.close();
      await backends.broker.close();
      throw err;
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const { broker, presence } = backends;
  const hub = new ChatHub({
    store,
    broker,
    presence,
    logger,
    metrics,
    options: {
      maxText: config.maxText,
      rateLimit: config.rateLimit,
      slowReaderBytes: config.slowReaderBytes,
      heartbeatMs: config.heartbeatMs,
      historyKeep: config.historyKeep,
      admins: config.admins,
      // With several nodes, a node can die between storing a message and publishing it: each
      // second the others compare the rooms they follow with the store (DESIGN: within 3 s).
      catchUpMs: backendNames(config).broker === 'local' ? 0 : 1000,
    },
  });
  let shuttingDown = false;
  const app = createHttpApp({
    settings: {
      trustProxy: config.trustProxy,
      tls: config.tls !== undefined,
      sessionTtlMs: config.sessionTtlMs,
      guests: config.guests,
      maxText: config.maxText,
      nodeId: config.nodeId,
    },
    signInLimiter,
    store,
    chat: hub,
    secret,
    logger,
    metrics,
    webRoot: WEB_ROOT,
    ready: async () => !shuttingDown && (await store.ping()) && (await broker.ping()) && (await presence.ping()),
  });
  const http = app.callback();
  const upgrades = new UpgradeRouter({ http, config, store, hub, secret, logger, metrics });

  // Without Node's Host check: the app and the upgrade router refuse a missing Host in JSON (refuseRequestLine).
  const server: Server = tls ? createHttpsServer({ ...tls, requireHostHeader: false }, http) : createHttpServer({ requireHostHeader: false }, http);
  server.on('upgrade', upgrades.handle);
  server.on('clientError', answerClientError);
  server.on('connect', refuseConnect);

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await hub.close();
    await signInLimiter.close();
    await presence.close();
    await broker.close();
    await store.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const scheme = config.tls ? 'https' : 'http';
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `${scheme}://${shownHost}:${port}`;
  logger.info({ url, dataDir: config.dataDir, ...backendNames(config) }, 'parley listening');
  const idleCollector = startIdleCollector({
    ...IDLE_COLLECTOR_DEFAULTS,
    onCollect: ({ ms, heapBefore, heapAfter }) =>
      logger.info({ ms: Math.round(ms), heapBeforeMB: Math.round(heapBefore / 2 ** 20), heapAfterMB: Math.round(heapAfter / 2 ** 20) }, 'collected garbage while idle'),
  });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      shuttingDown = true;
      idleCollector.stop();
      upgrades.stopAccepting();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      await hub.close();
      upgrades.close();
      server.closeAllConnections();
      await stopped;
      await signInLimiter.close();
      await presence.close();
      await broker.close();
      await store.close();
      logger.info('parley stopped');
    })());
  return { port, url, logger, close };
}

/** Malformed HTTP (oversized headers, garbage): a JSON error rather than a silent hang-up. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  endWithError(socket, status, 'bad_request', `malformed HTTP request (${err.code ?? 'parse error'})`);
}

/** A CONNECT (a request for a tunnel): Parley is no proxy. Node would otherwise drop it unanswered. */
function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  endWithError(socket, 400, 'bad_request', 'CONNECT is not supported: this server is not a proxy');
}

async function ensureDefaultRoom(store: Store): Promise<void> {
  if (await store.getRoom(DEFAULT_ROOM)) return;
  try {
    await store.createRoom({ name: DEFAULT_ROOM, private: false, createdBy: null });
  } catch (err) {
    if (!(err instanceof RoomExistsError)) throw err;
  }
}
