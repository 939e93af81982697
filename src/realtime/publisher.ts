/**
 * The one path by which a message is stored and fanned out: the append batcher stores the
 * messages of a turn in one transaction, then each is published to its room (and, for a DM, to
 * both users' channels, so that connections not in the conversation yet hear of it), then acked.
 */
import { userChannel, type Broker, type PresenceUser, type RoomEvent } from '../broker/types.js';
import type { Metrics } from '../metrics.js';
import { directRoomMembers } from '../protocol/names.js';
import type { NewEntry, Store } from '../store/types.js';
import { AppendBatcher, type AppendCallback } from './append-batcher.js';
import { ChatError } from './errors.js';

/** Each room is pruned after this many new messages (when HISTORY_KEEP is set). */
const PRUNE_EVERY = 1000;

export interface PublisherDeps {
  store: Store;
  broker: Broker;
  metrics: Metrics;
  /** Messages kept per room; 0 keeps all. */
  historyKeep: number;
  onError(err: unknown): void;
  /** The broker could not take an event of a stored message (logged; the message is still acked). */
  onPublishFailure(err: unknown): void;
}

export class Publisher {
  readonly #store: Store;
  readonly #broker: Broker;
  readonly #metrics: Metrics;
  readonly #historyKeep: number;
  readonly #onError: (err: unknown) => void;
  readonly #batcher: AppendBatcher;
  readonly #appendedSincePrune = new Map<string, number>();
  readonly #onPublishFailure: (err: unknown) => void;
  /** Publishes so far, to time one in 64 of them. */
  #published = 0;
  #closed = false;

  constructor(deps: PublisherDeps) {
    this.#store = deps.store;
    this.#broker = deps.broker;
    this.#metrics = deps.metrics;
    this.#historyKeep = deps.historyKeep;
    this.#onError = deps.onError;
    this.#onPublishFailure = deps.onPublishFailure;
    this.#batcher = new AppendBatcher(deps.store);
  }

  /**
   * Stores the message, then fans it out to every node, then calls `done` (which acks). Returns at
   * once: the sender's next frame is handled while this one is being stored, so a client's burst
   * becomes one transaction. Callbacks, not promises: this is the per-message hot path.
   */
  append(user: PresenceUser, room: string, data: string, cid: string | undefined, done: AppendCallback): void {
    this.appendEntry({ room, user, data, cid, ts: Date.now() }, done);
  }

  /**
   * Like append, for any entry of a timeline: a message (with a reply, mentions) or an edit, delete
   * or react event. An entry the store refused (its result has `refused`) is not published.
   */
  appendEntry(entry: NewEntry, done: AppendCallback): void {
    if (this.#closed) return done(new ChatError('internal', 'server is shutting down'), undefined);
    const { room } = entry;
    this.#batcher.append(entry, (err, result) => {
      if (!result) return done(err, undefined);
      if (result.refused) return done(undefined, result);
      if (!result.duplicate) {
        this.#metrics.messagesStored.inc();
        this.#maybePrune(room);
      }
      // A duplicate is published again too: if the first attempt died before its broadcast, this one fills in.
      const event: RoomEvent = { kind: 'chat', message: result.message };
      let all: Promise<unknown> | void;
      try {
        const published = this.#broker.publish(room, event);
        const members = directRoomMembers(room);
        all = members
          ? Promise.all([published, ...[...new Set(members)].map((id) => this.#broker.publish(userChannel(id), event))])
          : published;
        // Each user the message names is told on their own channel, once (not again for a retry).
        const named = result.message.kind === undefined && !result.duplicate ? result.message.mentions : undefined;
        if (named !== undefined) {
          const mention: RoomEvent = { kind: 'mention', room, id: result.message.id, user: entry.user };
          all = Promise.all([all, ...named.map((id) => this.#broker.publish(userChannel(id), mention))]);
        }
      } catch (e) {
        all = Promise.reject(e);
      }
      // The in-process broker has delivered by now; a networked one acks once the event is out.
      if (all === undefined) return done(undefined, result);
      const timed = (this.#published++ & 63) === 0 ? this.#metrics.brokerPublishSeconds.startTimer() : undefined;
      all.then(
        () => {
          timed?.();
          done(undefined, result);
        },
        (e: unknown) => {
          // Stored is stored: the ack says so. The nodes that follow the room find the message in
          // the store (catch-up), and a retry with the same cid would only publish it again.
          this.#metrics.brokerPublishFailures.inc();
          this.#onPublishFailure(e);
          done(undefined, result);
        },
      );
    });
  }

  #maybePrune(room: string): void {
    if (this.#historyKeep === 0) return;
    const n = (this.#appendedSincePrune.get(room) ?? 0) + 1;
    if (n < PRUNE_EVERY && n < this.#historyKeep) {
      this.#appendedSincePrune.set(room, n);
      return;
    }
    this.#appendedSincePrune.set(room, 0);
    void this.#store.prune(room, this.#historyKeep).catch(this.#onError);
  }

  /** Refuses new messages and resolves when those already queued are stored and published. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#batcher.drain();
  }
}
