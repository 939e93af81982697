/**
 * The read markers of `parley chat`: what it has shown of a room counts as read (markRead), so the
 * web page's unread counts, on this or another device, agree. Every frame counts against the
 * server's RATE_LIMIT, so markers are sent at most once per DELAY_MS per room (the highest id shown
 * by then), and once more when the chat ends.
 */
const DELAY_MS = 1000;

export class ReadMarks {
  readonly #markRead: (room: string, id: number) => void;
  /** The highest id shown per room since the last flush. */
  readonly #shown = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  /** `markRead`: the SDK's (it sends only a marker that goes up, and the ones made offline on reconnect). */
  constructor(markRead: (room: string, id: number) => void) {
    this.#markRead = markRead;
  }

  /** Message or event `id` of `room` was shown. */
  shown(room: string, id: number): void {
    if ((this.#shown.get(room) ?? 0) >= id) return;
    this.#shown.set(room, id);
    this.#timer ??= setTimeout(() => this.flush(), DELAY_MS).unref();
  }

  /** Sends the markers due now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [room, id] of this.#shown) this.#markRead(room, id);
    this.#shown.clear();
  }
}
