/**
 * The order of the lines typed or piped into `parley chat`. They are taken one by one as they come;
 * while a room is being joined (the first one, or a new one asked for with /join) the lines after it
 * are held until the room answers, so that they go to that room and /who and /dm see who is there: a
 * script's `/join ROOM` then `hello` does not send before the room exists. A room that has not
 * answered `waitMs` after the connection opened lets them go anyway.
 */
export interface LineGateOptions {
  /** The room joined first: the lines wait for it from the start. */
  firstRoom: string;
  waitMs: number;
  /** Takes one line (it may hold the next ones with `holdFor`). */
  take: (line: string) => void;
  /** The input has ended and every line of it was taken. */
  onInputDone: () => void;
}

export class LineGate {
  readonly #options: LineGateOptions;
  readonly #held: string[] = [];
  /** The room whose answer the lines wait for. */
  #room: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #connected = false;
  #inputEnded = false;
  #stopped = false;

  constructor(options: LineGateOptions) {
    this.#options = options;
    this.#room = options.firstRoom;
  }

  /** A line came: taken now, or held behind the room being joined. */
  push(line: string): void {
    if (this.#stopped) return;
    if (this.#room !== undefined || this.#held.length > 0) this.#held.push(line);
    else this.#options.take(line);
  }

  /** The lines from now on wait until `room` answers. */
  holdFor(room: string): void {
    this.#room = room;
    if (this.#connected) this.#startWaiting();
  }

  /** `room` answered (its list, a refusal, a failed create): the held lines go on. */
  release(room: string): void {
    if (this.#room !== room) return;
    this.#room = undefined;
    clearTimeout(this.#timer);
    // A /join among the held lines holds the rest again.
    while (this.#room === undefined && this.#held.length > 0 && !this.#stopped) this.#options.take(this.#held.shift()!);
    this.#checkInputDone();
  }

  /** The connection opened (or opened again): the room waited for has `waitMs` from now. */
  connected(): void {
    this.#connected = true;
    this.#startWaiting();
  }

  /** The end of input: `onInputDone` once every held line is taken. */
  endOfInput(): void {
    this.#inputEnded = true;
    this.#checkInputDone();
  }

  /** No more lines are taken (quitting). */
  stop(): void {
    this.#stopped = true;
    this.#held.length = 0;
    clearTimeout(this.#timer);
  }

  #startWaiting(): void {
    clearTimeout(this.#timer);
    const room = this.#room;
    if (room !== undefined) this.#timer = setTimeout(() => this.release(room), this.#options.waitMs).unref();
  }

  #checkInputDone(): void {
    if (this.#inputEnded && !this.#stopped && this.#room === undefined && this.#held.length === 0) this.#options.onInputDone();
  }
}
