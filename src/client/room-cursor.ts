/**
 * The per-room bookkeeping that delivers each message once and in id order: the last id handed to
 * the application, and whether a re-sync (join with `after`) is on its way.
 */

/** What to do with an incoming message. */
export type Verdict = 'deliver' | 'drop' | 'resync';

/** How long a re-sync may stay unanswered before a new gap may ask again (ms). */
export const RESYNC_RETRY_MS = 5_000;

export class RoomCursor {
  /** The last id delivered to the application; undefined before the first one. */
  last: number | undefined;
  /**
   * The ts of message `last`, when known: sent back with a rejoin, so that the server can tell
   * whether its history is still the one this client has.
   */
  lastTs: number | undefined;
  #resyncingSince: number | undefined;
  #acceptGap = false;

  constructor(last?: number) {
    this.last = last;
  }

  /** Decides about a message with `id`; 'deliver' also advances the cursor (the caller sets lastTs). */
  offer(id: number, now: number = Date.now()): Verdict {
    if (this.last === undefined || id === this.last + 1 || (this.#acceptGap && id > this.last)) {
      this.last = id;
      this.#acceptGap = false;
      return 'deliver';
    }
    if (id <= this.last) return 'drop';
    // A hole: ask the server to replay from `last` once, and drop what arrives until the replay fills it.
    if (this.#resyncingSince !== undefined && now - this.#resyncingSince < RESYNC_RETRY_MS) return 'drop';
    this.#resyncingSince = now;
    return 'resync';
  }

  /** A join with `after` was sent (rejoin or re-sync): its replay is coming. */
  resyncSent(now: number = Date.now()): void {
    this.#resyncingSince = now;
  }

  /** The server answered a join (its `list` follows the replay): the room is in sync again. */
  synced(): void {
    this.#resyncingSince = undefined;
    this.#acceptGap = false;
  }

  /** The server said it no longer has some messages: the next id after `last` is accepted, whatever it is. */
  historyGap(): void {
    this.#acceptGap = true;
  }

  /** The room's history now goes on after `lastId`, before messages delivered here: start over from it. */
  rewind(lastId: number, lastTs?: number): void {
    this.last = lastId;
    this.lastTs = lastTs;
  }

  /** A new connection: whatever the old one was waiting for will not come. */
  reset(): void {
    this.#resyncingSince = undefined;
    this.#acceptGap = false;
  }
}
