/**
 * The broker of several nodes: Redis pub/sub. Each node has two connections: one publishes (and
 * answers ping), the other only subscribes, as Redis requires of a connection in subscribe mode
 * under RESP2 and as keeps a burst of publishes from queueing behind incoming messages.
 */
import type { Logger } from 'pino';
import { createClient } from '@redis/client';
import { answers, closeConnection, connectOrFail, redisOptions, watchConnection } from './redis-client.js';
import { BrokerUnavailableError, userOfChannel, type Broker, type BrokerHandlers, type ChannelEvent } from './types.js';

/**
 * Redis channel names: `parley:room:<room>` and `parley:user:<id>`. No hash tag: each channel then
 * hashes on its whole name, so that if the broker moves to sharded pub/sub (SPUBLISH/SSUBSCRIBE
 * on a Redis Cluster) the rooms spread over every shard instead of piling onto one slot. Room
 * names never contain "user:" (see userChannel), so the two kinds cannot clash.
 */
const ROOM_PREFIX = 'parley:room:';
const USER_PREFIX = 'parley:';

function redisChannel(channel: string): string {
  return (userOfChannel(channel) === undefined ? ROOM_PREFIX : USER_PREFIX) + channel;
}

type Client = ReturnType<typeof createClient>;

export class RedisBroker implements Broker {
  readonly #publisher: Client;
  readonly #subscriber: Client;
  readonly #log: Logger;
  #handlers: BrokerHandlers | undefined;
  /** The channels this node follows: Redis channel name -> the channel's name for the hub. */
  readonly #wanted = new Map<string, { channel: string }>();
  readonly #onMessage = (message: string, redisName: string) => this.#deliver(message, redisName);

  private constructor(publisher: Client, subscriber: Client, logger: Logger) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#log = logger.child({ component: 'redis-broker' });
  }

  /** Connects both connections to the Redis at `url`; fails if it cannot within 10 s. */
  static async connect(url: string, logger: Logger): Promise<RedisBroker> {
    const publisher = createClient(redisOptions(url));
    const subscriber = publisher.duplicate();
    const broker = new RedisBroker(publisher, subscriber, logger);
    watchConnection(publisher, logger, 'publish');
    // node-redis subscribes again to every channel before it reports the connection ready.
    watchConnection(subscriber, logger, 'subscribe', () => void broker.#recovered());
    try {
      await Promise.all([connectOrFail(publisher, url), connectOrFail(subscriber, url)]);
    } catch (err) {
      publisher.destroy();
      subscriber.destroy();
      throw err;
    }
    return broker;
  }

  /**
   * Sends the event to every node that follows the channel. The publishes of one event-loop turn
   * (those of one stored batch) leave in one write: node-redis pipelines them. Rejects with
   * BrokerUnavailableError while Redis cannot be reached.
   */
  publish(channel: string, event: ChannelEvent): Promise<void> {
    return this.#publisher.publish(redisChannel(channel), JSON.stringify(event)).then(
      () => undefined,
      (err: unknown) => {
        throw new BrokerUnavailableError(undefined, { cause: err });
      },
    );
  }

  async subscribe(channel: string): Promise<void> {
    const name = redisChannel(channel);
    const wanted = { channel };
    this.#wanted.set(name, wanted);
    try {
      // Does nothing new for a channel already subscribed (node-redis keeps one listener set per channel).
      await this.#subscriber.subscribe(name, this.#onMessage);
    } catch (err) {
      // Not subscribed: the caller fails, and (unless a later call wants it again) nobody here follows it.
      if (this.#wanted.get(name) === wanted) this.#wanted.delete(name);
      throw new BrokerUnavailableError(undefined, { cause: err });
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const name = redisChannel(channel);
    if (!this.#wanted.delete(name)) return;
    try {
      await this.#subscriber.unsubscribe(name);
    } catch {
      // Redis is unreachable: node-redis will subscribe to it again when it reconnects, and
      // #recovered drops it then; until then its events are ignored (not in #wanted).
    }
  }

  listen(handlers: BrokerHandlers): void {
    this.#handlers = handlers;
  }

  /** Both connections up, and Redis answers. */
  async ping(): Promise<boolean> {
    return this.#subscriber.isReady && (await answers(this.#publisher));
  }

  async close(): Promise<void> {
    this.#wanted.clear();
    await Promise.all([closeConnection(this.#publisher), closeConnection(this.#subscriber)]);
  }

  #deliver(message: string, redisName: string): void {
    const channel = this.#wanted.get(redisName)?.channel;
    if (channel === undefined || !this.#handlers) return;
    let event: ChannelEvent;
    try {
      event = JSON.parse(message) as ChannelEvent;
    } catch (err) {
      this.#log.warn({ err, channel: redisName }, 'ignored a message that is not JSON');
      return;
    }
    this.#handlers.event(channel, event);
  }

  /**
   * The subscriber is back, subscribed again to what it had: drops the channels left while it was
   * away, then has the node read again what it may have missed meanwhile.
   */
  async #recovered(): Promise<void> {
    const stale = [...this.#subscriber.getPubSubListeners('CHANNELS').keys()].filter((name) => !this.#wanted.has(name));
    if (stale.length > 0) await this.#subscriber.unsubscribe(stale).catch(() => {});
    this.#handlers?.resync();
  }
}
