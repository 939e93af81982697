import { createServer, connect, type Server, type Socket } from 'node:net';

/** A TCP proxy in front of the server whose connections the test can cut, or refuse for a while. */
export class CuttableProxy {
  #server: Server;
  #sockets = new Set<Socket>();
  refusing = false;
  port = 0;
  cuts = 0;

  constructor(targetPort: number) {
    this.#server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      const upstream = connect(targetPort, '127.0.0.1');
      for (const [a, b] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.#sockets.add(a);
        a.pipe(b);
        a.on('error', () => b.destroy());
        a.on('close', () => {
          this.#sockets.delete(a);
          b.destroy();
        });
      }
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return `http://127.0.0.1:${this.port}`;
  }

  /** Destroys every proxied connection, as a network failure would. */
  cut(): void {
    this.cuts += 1;
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
