/**
 * A raw protocol client for tests: a real `ws` WebSocket that records every frame the server sends
 * and lets a test wait for the next one that matches.
 */
import WebSocket from 'ws';

export type Frame = { type: string; [key: string]: unknown };

export interface SignedIn {
  user: { id: number; name: string; guest: boolean };
  token: string;
}

export async function signInGuest(baseUrl: string, name: string): Promise<SignedIn> {
  const res = await fetch(`${baseUrl}/api/guest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 200) throw new Error(`guest sign-in answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as SignedIn;
}

export class ChatClient {
  readonly frames: Frame[] = [];
  #cursor = 0;
  #waiters: Array<() => void> = [];
  closeCode: number | undefined;
  closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      this.frames.push(JSON.parse(data.toString()) as Frame);
      this.#wake();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        this.#wake();
        resolve(code);
      }),
    );
  }

  /** Opens /ws/chat with the token and waits for the welcome frame. */
  static async connect(wsUrl: string, token: string, options: WebSocket.ClientOptions = {}): Promise<ChatClient> {
    const ws = new WebSocket(`${wsUrl}/ws/chat`, { headers: { authorization: `Bearer ${token}` }, ...options });
    const client = new ChatClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
    });
    await client.next('welcome');
    return client;
  }

  send(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** The next frame (after those already taken) that matches; frames before it are skipped. */
  async next(type: string, match: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#cursor < this.frames.length) {
        const f = this.frames[this.#cursor++]!;
        if (f.type === type && match(f)) return f;
      }
      if (this.closeCode !== undefined) throw new Error(`connection closed (${this.closeCode}) while waiting for ${type}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${type}; frames: ${JSON.stringify(this.frames.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Every frame received so far of the type. */
  all(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  close(): Promise<number> {
    if (this.closeCode === undefined) this.ws.close();
    return this.closed;
  }
}

/** The HTTP status of a refused upgrade, or 101 when the upgrade went through. */
export function upgradeStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.close();
    });
    ws.once('error', (err) => reject(err));
  });
}
