/**
 * Opens a WebSocket in a browser (native) or in Node (`ws`, loaded on first use so that a browser
 * bundle never contains it) behind one small interface. With `ws` the token goes in the
 * Authorization header and a refused upgrade reports its HTTP status; a browser cannot set headers
 * (the cookie or `?token=` is used) and never sees the status.
 */

/** The part of the WHATWG WebSocket API the SDK uses; the native WebSocket and `ws` both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The `ws` package's client, typed as far as the SDK uses it. */
type NodeWebSocketConstructor = new (
  url: string,
  options: { headers?: Record<string, string>; handshakeTimeout?: number },
) => WebSocketLike & {
  on(event: 'unexpected-response', listener: (req: unknown, res: { statusCode?: number }) => void): void;
  on(event: 'pong' | 'ping', listener: () => void): void;
  ping(): void;
  terminate(): void;
};

export interface TransportHandlers {
  onOpen(): void;
  onMessage(text: string): void;
  /** The socket is gone. `httpStatus` is the status of a refused upgrade, when it is known. */
  onClose(info: { code: number; reason: string; httpStatus?: number; wasOpen: boolean; statusVisible: boolean }): void;
}

export interface Transport {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  /** The underlying socket, for tests and for the rare caller that needs it. */
  readonly socket: WebSocketLike;
}

const OPEN = 1;

export function isNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';
}

let nodeWebSocket: Promise<NodeWebSocketConstructor> | undefined;

/** `ws`, imported at run time only; the module name is a variable so that bundlers leave it alone. */
export function loadNodeWebSocket(): Promise<NodeWebSocketConstructor> {
  const name = 'ws';
  nodeWebSocket ??= import(/* @vite-ignore */ name).then(
    (mod: { WebSocket?: NodeWebSocketConstructor; default?: NodeWebSocketConstructor }) => {
      const ctor = mod.WebSocket ?? mod.default;
      if (!ctor) throw new Error('the ws package has no WebSocket export');
      return ctor;
    },
  );
  return nodeWebSocket;
}

export interface OpenOptions {
  url: string;
  token?: string;
  /** A WebSocket class to use instead of the default (native in browsers, `ws` in Node). */
  WebSocket?: WebSocketConstructor;
  handshakeTimeoutMs?: number;
  /**
   * With `ws` only (browsers cannot ping): ping this often, and drop a connection that answered
   * nothing for a whole interval, so a silently dead network (no FIN, no RST) is noticed. 0: off.
   */
  keepAliveMs?: number;
}

/** Opens a socket; every outcome, including a failure to start, ends in exactly one `onClose`. */
export async function openTransport(options: OpenOptions, handlers: TransportHandlers): Promise<Transport> {
  let httpStatus: number | undefined;
  let wasOpen = false;
  let closed = false;
  let socket: WebSocketLike;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  let heard = true;
  let errorText = '';
  let deadReason = '';

  const useNode = !options.WebSocket && (isNode() || typeof globalThis.WebSocket === 'undefined');
  const finish = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    if (keepAlive !== undefined) clearInterval(keepAlive);
    handlers.onClose({ code, reason, httpStatus, wasOpen, statusVisible: useNode });
  };

  try {
    if (useNode) {
      const NodeWS = await loadNodeWebSocket();
      const headers: Record<string, string> = {};
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      const ws = new NodeWS(options.url, { headers, handshakeTimeout: options.handshakeTimeoutMs ?? 10_000 });
      ws.on('unexpected-response', (_req, res) => {
        httpStatus = res.statusCode;
        ws.terminate();
      });
      const every = options.keepAliveMs ?? 0;
      if (every > 0) {
        ws.on('pong', () => (heard = true));
        ws.on('ping', () => (heard = true));
        keepAlive = setInterval(() => {
          if (ws.readyState !== OPEN) return;
          if (!heard) {
            deadReason = `no answer for ${every} ms`;
            ws.terminate();
            return;
          }
          heard = false;
          ws.ping();
        }, every);
        keepAlive.unref?.();
      }
      socket = ws;
    } else {
      const Ctor = options.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketConstructor);
      const url = new URL(options.url);
      // Headers are impossible here; the server also takes the token from the query.
      if (options.token) url.searchParams.set('token', options.token);
      socket = new Ctor(url.toString());
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const failed: Transport = { send() {}, close() {}, socket: undefined as unknown as WebSocketLike };
    queueMicrotask(() => finish(1006, reason));
    return failed;
  }

  socket.onopen = () => {
    wasOpen = true;
    handlers.onOpen();
  };
  socket.onmessage = (ev) => {
    heard = true;
    if (typeof ev.data === 'string') handlers.onMessage(ev.data);
  };
  socket.onerror = (ev) => {
    const err = (ev as { error?: unknown; message?: unknown } | undefined) ?? {};
    errorText = err.error instanceof Error ? err.error.message : typeof err.message === 'string' ? err.message : errorText;
  };
  socket.onclose = (ev) => finish(ev.code, deadReason || ev.reason || errorText);

  return {
    socket,
    send(text: string) {
      if (socket.readyState === OPEN) socket.send(text);
    },
    close(code?: number, reason?: string) {
      try {
        socket.close(code, reason);
      } catch {
        // closing a socket that never opened throws in some implementations; it is gone either way
      }
    },
  };
}
