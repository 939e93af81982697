/**
 * Per-connection write queue. Frames pushed during one event-loop turn are written together
 * (cork/uncork) in a single pass after the turn's I/O, so a burst of broadcasts costs one syscall
 * per socket instead of one per frame.
 */
import type { Duplex } from 'node:stream';

/** One pass per event-loop turn over every queue that has frames waiting. */
class FlushScheduler {
  /** Each queue is marked once per turn (when its first frame arrives), so no duplicates. */
  #dirty: OutboundQueue[] = [];
  #spare: OutboundQueue[] = [];
  #scheduled = false;

  mark(queue: OutboundQueue): void {
    this.#dirty.push(queue);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }

  #run = (): void => {
    this.#scheduled = false;
    // Two arrays used in turn: no allocation per pass. Frames pushed while flushing go to the next pass.
    const dirty = this.#dirty;
    this.#dirty = this.#spare;
    for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
    dirty.length = 0;
    this.#spare = dirty;
  };
}

const scheduler = new FlushScheduler();

export interface OutboundListener {
  framesWritten(count: number): void;
  slowReader(): void;
}

export class OutboundQueue {
  /** Most turns carry one frame per socket: it waits here, without an array. */
  #first: Buffer | undefined;
  /** Frames after the first, in order; allocated only when a socket gets several in a turn. */
  #more: Buffer[] | undefined;
  #closed = false;

  /**
   * @param socket the raw TCP/TLS socket under the WebSocket
   * @param limitBytes buffered bytes past which the reader counts as slow
   * @param listener told of the frames written, and once of a slow reader (the queue then drops frames)
   */
  constructor(
    private readonly socket: Duplex,
    private readonly limitBytes: number,
    private readonly listener: OutboundListener,
  ) {}

  push(frame: Buffer): void {
    if (this.#closed) return;
    if (this.#first === undefined) {
      this.#first = frame;
      scheduler.mark(this);
    } else if (this.#more === undefined) this.#more = [frame];
    else this.#more.push(frame);
  }

  /** Writes everything queued now (also called before a close, so the close frame comes last). */
  flush(): void {
    const first = this.#first;
    if (first === undefined || this.#closed) return;
    const more = this.#more;
    this.#first = undefined;
    this.#more = undefined;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    if (more === undefined) socket.write(first);
    else {
      socket.cork();
      socket.write(first);
      for (let i = 0; i < more.length; i++) socket.write(more[i]!);
      socket.uncork();
    }
    this.listener.framesWritten(more === undefined ? 1 : more.length + 1);
    if (socket.writableLength > this.limitBytes) {
      this.#closed = true;
      this.listener.slowReader();
    }
  }

  /** Stops writing; frames pushed afterwards are dropped. */
  close(): void {
    this.#closed = true;
    this.#first = undefined;
    this.#more = undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }
}
