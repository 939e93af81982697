/**
 * Per-connection write queue. Frames pushed during one event-loop turn are written together
 * (cork/uncork) in a single pass after the turn's I/O, so a burst of broadcasts costs one syscall
 * per socket instead of one per frame. The members of a room get the very same frames in a turn,
 * and are marked one after another: from the second of them on, those frames go out joined into
 * one buffer, written as is (see SharedFrames).
 */
import type { Duplex } from 'node:stream';

/** One pass per event-loop turn over every queue that has frames waiting. */
class FlushScheduler {
  /** Each queue is marked once per turn (when its first frame arrives), so no duplicates. */
  #dirty: OutboundQueue[] = [];
  #spare: OutboundQueue[] = [];
  #scheduled = false;
  readonly #shared = new SharedFrames();

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
    for (let i = 0; i < dirty.length; i++) dirty[i]!.flush(this.#shared);
    dirty.length = 0;
    this.#shared.forget();
    this.#spare = dirty;
  };
}

/**
 * The frames of the last queue in a flush pass that had several, and, once a second queue has
 * exactly the same ones (the same Buffer objects, in the same order), those frames joined. Each
 * further member of the room is then one plain write of that buffer: a corked write per frame goes
 * through the stream's bookkeeping once per frame, about 1 µs more of this thread per socket for
 * 8 frames (measured on loopback). A queue whose frames are its own (a sender's, with its acks)
 * is written corked, as before, and costs no copy.
 */
class SharedFrames {
  #first: Buffer | undefined;
  #more: Buffer[] | undefined;
  #joined: Buffer | undefined;

  /** The frames joined if the last queue had the same ones; otherwise remembers these and returns undefined. */
  joined(first: Buffer, more: Buffer[]): Buffer | undefined {
    const last = this.#more;
    if (this.#first === first && last !== undefined && sameFrames(last, more)) {
      return (this.#joined ??= Buffer.concat([first, ...more]));
    }
    this.#first = first;
    this.#more = more;
    this.#joined = undefined;
    return undefined;
  }

  /** Drops the references at the end of a pass, so that no frame outlives it here. */
  forget(): void {
    this.#first = undefined;
    this.#more = undefined;
    this.#joined = undefined;
  }
}

function sameFrames(a: Buffer[], b: Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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

  /**
   * Writes everything queued now (also called before a close, so the close frame comes last).
   * `shared` is the flush pass's, when this runs in one.
   */
  flush(shared?: SharedFrames): void {
    const first = this.#first;
    if (first === undefined || this.#closed) return;
    const more = this.#more;
    this.#first = undefined;
    this.#more = undefined;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    let joined: Buffer | undefined;
    if (more === undefined) socket.write(first);
    else if (shared !== undefined && (joined = shared.joined(first, more)) !== undefined) socket.write(joined);
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
