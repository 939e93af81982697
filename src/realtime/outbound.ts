/**
 * Per-connection write queue. Frames pushed during one event-loop turn are written together
 * (cork/uncork) in a single pass after the turn's I/O, so a burst of broadcasts costs one syscall
 * per socket instead of one per frame.
 */
import type { Duplex } from 'node:stream';

/** One pass per event-loop turn over every queue that has frames waiting. */
class FlushScheduler {
  readonly #dirty = new Set<OutboundQueue>();
  #scheduled = false;

  mark(queue: OutboundQueue): void {
    this.#dirty.add(queue);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }

  #run = (): void => {
    this.#scheduled = false;
    for (const queue of this.#dirty) queue.flush();
    this.#dirty.clear();
  };
}

const scheduler = new FlushScheduler();

export class OutboundQueue {
  #frames: Buffer[] = [];
  #closed = false;

  /**
   * @param socket the raw TCP/TLS socket under the WebSocket
   * @param limitBytes buffered bytes past which the reader counts as slow
   * @param onSlowReader called once when the limit is passed; the queue drops frames afterwards
   */
  constructor(
    private readonly socket: Duplex,
    private readonly limitBytes: number,
    private readonly onSlowReader: () => void,
    private readonly onFramesWritten: (count: number) => void = () => {},
  ) {}

  push(frame: Buffer): void {
    if (this.#closed) return;
    if (this.#frames.length === 0) scheduler.mark(this);
    this.#frames.push(frame);
  }

  /** Writes everything queued now (also called before a close, so the close frame comes last). */
  flush(): void {
    const frames = this.#frames;
    if (frames.length === 0 || this.#closed) return;
    this.#frames = [];
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    if (frames.length === 1) socket.write(frames[0]!);
    else {
      socket.cork();
      for (const frame of frames) socket.write(frame);
      socket.uncork();
    }
    this.onFramesWritten(frames.length);
    if (socket.writableLength > this.limitBytes) {
      this.#closed = true;
      this.onSlowReader();
    }
  }

  /** Stops writing; frames pushed afterwards are dropped. */
  close(): void {
    this.#closed = true;
    this.#frames = [];
  }

  get closed(): boolean {
    return this.#closed;
  }
}
