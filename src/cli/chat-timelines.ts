/**
 * What `parley chat` knows of each room's messages, folded (a Timeline per room): the lines of a
 * reply, a reaction or a deletion quote the message they name when it is here. It holds what was
 * shown since the room was joined (its recent messages, /history, new messages), up to KEEP_IDS
 * ids back from the newest.
 */
import { Timeline, type ChatMessage, type HistoryResult, type TimelineEventFrame } from '../client/index.js';

/** How far back (in ids) a room's messages are kept: a long session in a busy room stays small. */
const KEEP_IDS = 2000;

export class ChatTimelines {
  readonly #rooms = new Map<string, Timeline>();

  /** Message `id` of `room` as it is now, if it is held. */
  message(room: string, id: number): ChatMessage | undefined {
    return this.#rooms.get(room)?.get(id);
  }

  /** A page of history (recent messages, /history): its messages, in their state when it was read. */
  addPage(room: string, page: Pick<HistoryResult, 'data' | 'lastId'>): void {
    this.#timeline(room).add(page);
  }

  /** A new message, or an event folded into the message it names. */
  apply(entry: ChatMessage | TimelineEventFrame): void {
    const timeline = this.#timeline(entry.room);
    timeline.apply(entry);
    // Once in a hundred ids is often enough to keep the size bounded.
    if (entry.id % 100 === 0) timeline.forgetBefore(entry.id - KEEP_IDS);
  }

  /** The room's history went back in time (`rewound`): what is held may be gone from the server. */
  clear(room: string): void {
    this.#rooms.get(room)?.clear();
  }

  #timeline(room: string): Timeline {
    let timeline = this.#rooms.get(room);
    if (!timeline) this.#rooms.set(room, (timeline = new Timeline(room)));
    return timeline;
  }
}
