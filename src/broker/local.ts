import type { Broker, BrokerHandlers, ChannelEvent } from './types.js';

/** The broker of a single node: events go straight back to this process. */
export class LocalBroker implements Broker {
  #handlers: BrokerHandlers | undefined;
  readonly #subscribed = new Set<string>();

  publish(channel: string, event: ChannelEvent): void {
    if (this.#subscribed.has(channel)) this.#handlers?.event(channel, event);
  }

  async subscribe(channel: string): Promise<void> {
    this.#subscribed.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.#subscribed.delete(channel);
  }

  listen(handlers: BrokerHandlers): void {
    this.#handlers = handlers;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    this.#subscribed.clear();
  }
}
