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

/** The header size of a client frame with a payload of `len` bytes, mask key included. */
function headSize(len: number): number {
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4;
}

/** Writes the header of a client frame (FIN, the opcode, the length, a zero mask key) at `off`; returns where the payload goes. */
function writeHead(frame: Buffer, off: number, len: number, opcode: number): number {
  frame[off] = 0x80 | opcode;
  if (len < 126) frame[off + 1] = 0x80 | len;
  else if (len < 65536) {
    frame[off + 1] = 0x80 | 126;
    frame.writeUInt16BE(len, off + 2);
  } else {
    frame[off + 1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(len / 2 ** 32), off + 2);
    frame.writeUInt32BE(len >>> 0, off + 6);
  }
  const mask = off + headSize(len) - 4;
  frame.writeUInt32BE(0, mask);
  return mask + 4;
}

/** One client frame: FIN, the opcode, the length, a zero mask key, the payload. */
export function clientFrame(payload: Buffer, opcode = OP_TEXT): Buffer {
  const frame = Buffer.allocUnsafe(headSize(payload.length) + payload.length);
  payload.copy(frame, writeHead(frame, 0, payload.length, opcode));
  return frame;
}

/**
 * The text frames of several messages in one buffer, each text encoded straight into it: the
 * publishers of the load generator send thousands a second, and a buffer per message and per frame
 * (then joined) was most of their JavaScript.
 */
export function clientTextFrames(texts: readonly string[]): Buffer {
  const lengths = new Array<number>(texts.length);
  let size = 0;
  for (let i = 0; i < texts.length; i++) {
    const len = (lengths[i] = Buffer.byteLength(texts[i]!));
    size += headSize(len) + len;
  }
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (let i = 0; i < texts.length; i++) {
    off = writeHead(out, off, lengths[i]!, OP_TEXT);
    off += out.write(texts[i]!, off, lengths[i]!, 'utf8');
  }
  return out;
}

/** One read buffer for every socket: each read is parsed before the next one can happen. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

export class RawWs {
  readonly socket!: Socket;
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
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    this.ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    // A rejected handshake is reported through `ready`; this keeps an unawaited one from crashing.
    this.ready.catch(() => {});
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const timer = setTimeout(() => {
      settle!.reject(new Error(`upgrade timed out after ${timeoutMs} ms`));
      this.socket.destroy();
    }, timeoutMs);
    this.socket = connect({
      host: opts.host,
      port: opts.port,
      localAddress: opts.localAddress,
      noDelay: true,
      // Reads land in one shared buffer and come straight here, without a stream 'data' event per read.
      onread: {
        buffer: readBuffer,
        callback: (n: number, buf: Uint8Array) => {
          this.receivedAt = performance.now();
          const chunk = buf as Buffer;
          if (this.#open) this.#feed(chunk, n);
          else this.#handshake(chunk.toString('latin1', 0, n), timer, settle!);
          return true;
        },
      },
    });
    const key = randomBytes(16).toString('base64');
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    this.socket.write(
      `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}:${opts.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    this.socket.on('error', (err) => {
      clearTimeout(timer);
      settle!.reject(err);
    });
    this.socket.on('close', () => {
      clearTimeout(timer);
      if (!this.#open) settle!.reject(new Error('closed before the upgrade'));
      this.closed = true;
      this.onClose?.();
    });
  }

  #handshake(text: string, timer: NodeJS.Timeout, settle: { resolve: () => void; reject: (e: Error) => void }): void {
    this.#head += text;
    const end = this.#head.indexOf('\r\n\r\n');
    if (end < 0) return;
    clearTimeout(timer);
    const status = this.#head.slice(0, this.#head.indexOf('\r\n'));
    if (!/^HTTP\/1\.1 101 /.test(status)) {
      settle.reject(new Error(`upgrade refused: ${status}`));
      this.socket.destroy();
      return;
    }
    this.#open = true;
    const rest = Buffer.from(this.#head.slice(end + 4), 'latin1');
    this.#head = '';
    settle.resolve();
    if (rest.length > 0) this.#feed(rest, rest.length);
  }

  send(text: string): void {
    this.socket.write(clientTextFrames([text]));
  }

  /** Several messages in one write. */
  sendMany(texts: readonly string[]): void {
    this.socket.write(clientTextFrames(texts));
  }

  close(): void {
    this.socket.destroy();
  }

  /** Parses the frames in chunk[0, n); an incomplete last frame is copied and completed by the next read. */
  #feed(chunk: Buffer, n: number): void {
    let off = 0;
    if (this.#tail) {
      // Complete the unfinished frame with only as many bytes as it lacks.
      const tail = this.#tail;
      const head = Buffer.concat([tail, chunk.subarray(0, Math.min(n, 14))]);
      const size = frameSize(head, 0, head.length);
      if (size < 0 || size - tail.length > n) {
        this.#tail = Buffer.concat([tail, chunk.subarray(0, n)]);
        return;
      }
      off = size - tail.length;
      const frame = Buffer.concat([tail, chunk.subarray(0, off)]);
      this.#tail = null;
      this.#parse(frame, frame.length);
    }
    off = this.#parse(chunk, n, off);
    // The read buffer is shared and reused: keep a copy of the unfinished frame.
    if (off < n) this.#tail = Buffer.from(chunk.subarray(off, n));
  }

  /** Handles the complete frames in buf[off, len) and returns where the first incomplete one starts. */
  #parse(buf: Buffer, len: number, off = 0): number {
    for (;;) {
      const size = frameSize(buf, off, len);
      if (size < 0 || off + size > len) return off;
      const b1 = buf[off + 1]! & 0x7f;
      const head = b1 < 126 ? 2 : b1 === 126 ? 4 : 10;
      const end = off + size;
      const opcode = buf[off]! & 0x0f;
      if (opcode === OP_TEXT) {
        this.textFrames++;
        this.onText(buf, off + head, end);
      } else if (opcode === OP_PING) {
        this.socket.write(clientFrame(Buffer.from(buf.subarray(off + head, end)), OP_PONG));
      } else if (opcode === OP_CLOSE) {
        this.socket.end(clientFrame(Buffer.alloc(0), OP_CLOSE));
      }
      off = end;
    }
  }
}

/** The whole size (header + payload) of the unmasked frame at buf[off], or -1 if its header is incomplete. */
function frameSize(buf: Buffer, off: number, len: number): number {
  if (len - off < 2) return -1;
  const b1 = buf[off + 1]! & 0x7f;
  if (b1 < 126) return 2 + b1;
  if (b1 === 126) return len - off < 4 ? -1 : 4 + buf.readUInt16BE(off + 2);
  return len - off < 10 ? -1 : 10 + buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
}
