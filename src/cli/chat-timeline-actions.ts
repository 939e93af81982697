/**
 * What the timeline commands of `parley chat` do (see chat-timeline-commands.ts): /reply, /edit,
 * /delete, /react and /unreact on a message of the current room, acked like a send, and /search
 * with /more for its next page. Refusals (not_found, forbidden, too_large…) become `!` lines.
 */
import { ParleyError, type Ack, type ParleyClient, type WireUser } from '../client/index.js';
import type { ChatLineOptions } from './chat-format.js';
import type { Output } from './chat-output.js';
import type { QuitDrain } from './chat-quit-drain.js';
import type { TimelineCommand } from './chat-timeline-commands.js';
import { formatSearch } from './chat-timeline-lines.js';
import { describeError } from './errors.js';

export interface TimelineActionsOptions {
  client: ParleyClient;
  out: Output;
  drain: QuitDrain;
  /** The room plain lines go to: message ids are that room's. */
  currentRoom: () => string | undefined;
  /** How lines name rooms and whom a message names. */
  lineOptions: () => ChatLineOptions;
  /** Shows a problem as an `!` line (an error event with --json). */
  problem: (code: string, message: string, extra?: object) => void;
  /** A request was acked: `fields` describe it in the JSON ack. */
  acked: (ack: Ack, fields: object) => void;
  /** How a refused send of `text` is shown. */
  sendFailed: (text: string) => (err: unknown) => void;
  /** Users seen in search results (names for /dm and DM labels). */
  learn: (users: WireUser[]) => void;
}

/** Where /more goes on from: the query, and the ts of the oldest result so far (none: no more). */
interface SearchPosition {
  q: string;
  room?: string | undefined;
  before?: number | undefined;
}

export class TimelineActions {
  readonly #o: TimelineActionsOptions;
  /** The last /search (or /more) once answered: the next one waits for it, and /more goes on from it. */
  #lastSearch: Promise<SearchPosition | undefined> = Promise.resolve(undefined);

  constructor(options: TimelineActionsOptions) {
    this.#o = options;
  }

  run(cmd: TimelineCommand): void {
    // Each search after the one before, so that answers come in the order asked.
    if (cmd.kind === 'search') return this.#remember(this.#lastSearch.then(() => this.#page({ q: cmd.q, room: cmd.room }, true)));
    if (cmd.kind === 'more') return this.#more();
    const { client, drain } = this.#o;
    const room = this.#o.currentRoom();
    if (!room) return this.#o.problem('no_room', 'join a room first: /join ROOM');
    switch (cmd.kind) {
      case 'reply':
        drain.trackSend(
          client.send(room, cmd.text, { reply: cmd.id }).then((ack) => this.#o.acked(ack, { data: cmd.text, reply: cmd.id }), this.#o.sendFailed(cmd.text)),
        );
        return;
      case 'edit':
        return this.#change(client.edit(room, cmd.id, cmd.text), `/edit #${cmd.id}`, { action: 'edit', target: cmd.id, data: cmd.text });
      case 'delete':
        return this.#change(client.delete(room, cmd.id), `/delete #${cmd.id}`, { action: 'delete', target: cmd.id });
      case 'react': {
        const action = cmd.on ? 'react' : 'unreact';
        return this.#change(client.react(room, cmd.id, cmd.emoji, cmd.on), `/${action} #${cmd.id} ${cmd.emoji}`, { action, target: cmd.id, emoji: cmd.emoji });
      }
    }
  }

  /** An edit, delete or react: its event comes back as a line; a refusal is told. */
  #change(request: Promise<Ack>, what: string, fields: object): void {
    const answered = request.then(
      (ack) => this.#o.acked(ack, fields),
      (err: unknown) => {
        const code = err instanceof ParleyError ? err.code : 'failed';
        // Closed before its ack: the server may well have done it.
        if (code === 'closed') return this.#o.problem(code, `${what} not confirmed: the chat closed before the server answered`, fields);
        this.#o.problem(code, `${what} refused (${code}): ${describeError(err)}`, fields);
      },
    );
    this.#o.drain.trackSend(answered);
  }

  #more(): void {
    this.#remember(
      this.#lastSearch.then((last) => {
        if (last === undefined) this.#o.problem('no_search', '/more: no search to go on with: /search WORDS first');
        else if (last.before === undefined) this.#o.problem('no_more', `/more: nothing more found for "${last.q}"`);
        else return this.#page(last, false);
        return last;
      }),
    );
  }

  /** Asks for the page of results at `at`; resolves where the next page starts (a failed /more: `at` again, to retry). */
  #page(at: SearchPosition, first: boolean): Promise<SearchPosition | undefined> {
    const options: { room?: string; before?: number } = {};
    if (at.room !== undefined) options.room = at.room;
    if (at.before !== undefined) options.before = at.before;
    // After the sends before it, as /history: a script's message then /search finds it.
    const answer = this.#o.drain.sendsSettled().then(() => this.#o.client.search(at.q, options));
    return answer.then(
      (page) => {
        this.#o.learn(page.data.map((m) => m.user));
        const text = formatSearch({ ...page, room: at.room, first }, this.#o.lineOptions());
        this.#o.out.event({ type: 'search', ...page, ...options }, text);
        const oldest = page.data.at(-1);
        return { q: at.q, room: at.room, before: page.more && oldest ? oldest.ts : undefined };
      },
      (err: unknown) => {
        const code = err instanceof ParleyError ? err.code : 'failed';
        this.#o.problem(code, `/search refused (${code}): ${describeError(err)}`, { q: at.q });
        return first ? undefined : at;
      },
    );
  }

  #remember(answer: Promise<SearchPosition | undefined>): void {
    this.#lastSearch = answer;
    this.#o.drain.track(answer);
  }
}
