/**
 * What `parley chat` still owes its user when asked to quit: requests in flight (sends, history),
 * and, without --json, the chat lines of acked messages that have not come back yet (a DM's can come
 * after its ack). /quit and the end of input wait for it, so that `echo "build done" | parley chat
 * URL --name ci` shows its message delivered.
 */
export class QuitDrain {
  readonly #pending = new Set<Promise<unknown>>();
  /** Sends not acked (or refused) yet: /history waits for them, so that it shows what was sent before it. */
  readonly #sends = new Set<Promise<unknown>>();
  /** Acked messages whose chat line has not come yet, as `room id`. */
  readonly #unechoed = new Set<string>();
  #onEcho: (() => void) | undefined;

  /** Waits for `p` when quitting. */
  track(p: Promise<unknown>): void {
    keep(this.#pending, p);
  }

  trackSend(p: Promise<unknown>): void {
    keep(this.#pending, p);
    keep(this.#sends, p);
  }

  /** Settles once every send made so far has its ack or its refusal. */
  sendsSettled(): Promise<unknown> {
    return Promise.allSettled([...this.#sends]);
  }

  /** Message `id` of `room` was acked; its chat line is still to come. */
  expectEcho(room: string, id: number): void {
    this.#unechoed.add(`${room} ${id}`);
  }

  /** A chat line came. */
  echoed(room: string, id: number): void {
    if (!this.#unechoed.delete(`${room} ${id}`)) return;
    const onEcho = this.#onEcho;
    this.#onEcho = undefined;
    onEcho?.();
  }

  /** Resolves once every request has settled and every expected chat line has come, new ones included. */
  async drained(): Promise<void> {
    for (;;) {
      if (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
      else if (this.#unechoed.size > 0) await new Promise<void>((resolve) => (this.#onEcho = resolve));
      else return;
    }
  }
}

/** Keeps `p` in `set` until it settles. */
function keep(set: Set<Promise<unknown>>, p: Promise<unknown>): void {
  set.add(p);
  void p.finally(() => set.delete(p));
}
