/**
 * A minimal WebSocket client for the load generator. It reads server frames by their headers only
 * (a server frame is never masked, so a text frame's payload is a plain byte range) and hands each
 * text frame to a callback as (buffer, start, end) without decoding or JSON-parsing it; pings are
 * answered with pongs. Client frames carry an all-zero mask key: a valid mask that leaves the
 * payload as is, so sending costs one copy. Permessage-deflate is never offered.
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export type TextHandler = (buf: Buffer, start: number, end: number) => void;

export interface RawWsOptions {
  host: string;
  port: number;
  /** path and query of the upgrade request, e.g. `/ws/chat?token=…` */
  path: string;
  headers?: Record<string, string>;
  /** source address, to spread many sockets over 127.0.0.x */
  localAddress?: string;
  timeoutMs?: number;
}

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** One client frame: FIN, the opcode, the length, a zero mask key, the payload. */
export function clientFrame(payload: Buffer, opcode = OP_TEXT): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + 4 + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    frame.writeUInt32BE(len >>> 0, 6);
  }
  frame.writeUInt32BE(0, head);
  payload.copy(frame, head + 4);
  return frame;
}

export class RawWs {
  readonly socket: Socket;
  /** when the last chunk arrived (performance.now()); handlers read it instead of asking the clock per frame */
  receivedAt = 0;
  textFrames = 0;
  closed = false;
  /** resolves after the 101 response; rejects on another status, an error or the timeout */
  readonly ready: Promise<void>;
  onClose: (() => void) | undefined;
  #tail: Buffer | null = null;
  #open = false;
  #head = '';

  constructor(
    opts: RawWsOptions,
    private readonly onText: TextHandler,
  ) {
    this.socket = connect({ host: opts.host, port: opts.port, localAddress: opts.localAddress, noDelay: true });
    const key = randomBytes(16).toString('base64');
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    this.socket.write(
      `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`upgrade timed out after ${opts.timeoutMs ?? 20_000} ms`));
        this.socket.destroy();
      }, opts.timeoutMs ?? 20_000);
      this.socket.on('data', (chunk: Buffer) => {
        this.receivedAt = performance.now();
        if (this.#open) return this.#feed(chunk);
        this.#head += chunk.toString('latin1');
        const end = this.#head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = this.#head.slice(0, this.#head.indexOf('\r\n'));
        if (!/^HTTP\/1\.1 101 /.test(status)) {
          clearTimeout(timer);
          reject(new Error(`upgrade refused: ${status}`));
          this.socket.destroy();
          return;
        }
        this.#open = true;
        clearTimeout(timer);
        const rest = Buffer.from(this.#head.slice(end + 4), 'latin1');
        this.#head = '';
        resolve();
        if (rest.length > 0) this.#feed(rest);
      });
      this.socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      this.socket.on('close', () => {
        clearTimeout(timer);
        if (!this.#open) reject(new Error('closed before the upgrade'));
        this.closed = true;
        this.onClose?.();
      });
    });
    // A rejected handshake is reported through `ready`; this keeps an unawaited one from crashing.
    this.ready.catch(() => {});
  }

  send(text: string): void {
    this.socket.write(clientFrame(Buffer.from(text)));
  }

  /** Several messages in one write. */
  sendMany(texts: string[]): void {
    if (texts.length === 1) return this.send(texts[0]!);
    this.socket.write(Buffer.concat(texts.map((t) => clientFrame(Buffer.from(t)))));
  }

  close(): void {
    this.socket.destroy();
  }

  #feed(chunk: Buffer): void {
    let buf = chunk;
    if (this.#tail) {
      buf = Buffer.concat([this.#tail, chunk]);
      this.#tail = null;
    }
    const len = buf.length;
    let off = 0;
    while (len - off >= 2) {
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      let plen = b1 & 0x7f;
      let head = 2;
      if (plen === 126) {
        if (len - off < 4) break;
        plen = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (plen === 127) {
        if (len - off < 10) break;
        plen = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        head = 10;
      }
      const end = off + head + plen;
      if (end > len) break;
      const opcode = b0 & 0x0f;
      if (opcode === OP_TEXT) {
        this.textFrames++;
        this.onText(buf, off + head, end);
      } else if (opcode === OP_PING) {
        this.socket.write(clientFrame(buf.subarray(off + head, end), OP_PONG));
      } else if (opcode === OP_CLOSE) {
        this.socket.end(clientFrame(Buffer.alloc(0), OP_CLOSE));
      }
      off = end;
    }
    if (off < len) this.#tail = buf.subarray(off);
  }
}
