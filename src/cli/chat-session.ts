/**
 * One `parley chat` session on the SDK: shows the client's events (JSON lines with --json, human
 * lines otherwise) and takes the lines typed or piped in as messages and commands. Its parts: the
 * line gate (the order of lines while a room is joined), the quit drain (what quitting waits for),
 * the rooms (the current one, joins and refusals), the users seen (names for labels and /dm), the
 * rooms' timelines (what lines quote), the read markers and the timeline commands (/edit, /search…).
 */
import { createInterface, type Interface } from 'node:readline';
import {
  ParleyError,
  ParleyHttpError,
  createRoom,
  type Ack,
  type ChatMessage,
  type ClientEvents,
  type DeleteFrame,
  type EditFrame,
  type ParleyClient,
  type ReactFrame,
} from '../client/index.js';
import { describeIssues } from '../issues.js';
import { roomNameSchema } from '../protocol/names.js';
import { CHAT_COMMANDS_HELP, parseChatLine } from './chat-commands.js';
import { formatChat, formatUsers, mentions, type ChatLineOptions } from './chat-format.js';
import { ChatModeration } from './chat-moderation.js';
import { LineGate } from './chat-line-gate.js';
import { jsonOutput, textOutput, type Output } from './chat-output.js';
import { QuitDrain } from './chat-quit-drain.js';
import { ReadMarks } from './chat-read-marks.js';
import { ChatRooms } from './chat-rooms.js';
import { TimelineActions } from './chat-timeline-actions.js';
import { formatDelete, formatEdit, formatReact } from './chat-timeline-lines.js';
import { ChatTimelines } from './chat-timelines.js';
import { KnownUsers } from './chat-users.js';
import { describeError } from './errors.js';

/** Messages shown when a room is joined interactively. */
const RECENT_ON_JOIN = 10;
/** How long lines after a join wait for its answer while connected, before they go anyway. */
const GATE_WAIT_MS = 3000;
/** How long /quit and the end of typed or piped input wait for the acks of what was just sent. */
const QUIT_WAIT_MS = 5000;

export interface ChatSessionOptions {
  client: ParleyClient;
  /** The server's base URL. */
  base: string;
  token: string;
  firstRoom: string;
  json: boolean;
}

export class ChatSession {
  readonly #client: ParleyClient;
  readonly #base: string;
  readonly #token: string;
  readonly #json: boolean;
  readonly #rl: Interface;
  readonly #out: Output;
  readonly #users = new KnownUsers();
  readonly #drain = new QuitDrain();
  readonly #rooms: ChatRooms;
  readonly #gate: LineGate;
  readonly #moderation: ChatModeration;
  readonly #timelines = new ChatTimelines();
  readonly #readMarks: ReadMarks;
  readonly #actions: TimelineActions;
  #everOpen = false;
  /** After /quit or the end of input: no more lines are taken, and the chat ends once drained. */
  #quitting = false;
  #ended = false;
  #resolve: (code: number) => void = () => {};

  constructor(options: ChatSessionOptions) {
    this.#client = options.client;
    this.#base = options.base;
    this.#token = options.token;
    this.#json = options.json;
    const terminal = !options.json && process.stdin.isTTY === true && process.stdout.isTTY === true;
    this.#rl = createInterface({ input: process.stdin, output: terminal ? process.stdout : undefined, terminal, crlfDelay: Infinity });
    this.#out = options.json ? jsonOutput() : textOutput(this.#rl, terminal);
    this.#rooms = new ChatRooms(this.#client, options.firstRoom, (room) => this.#out.setRoom(room));
    this.#gate = new LineGate({
      firstRoom: options.firstRoom,
      waitMs: GATE_WAIT_MS,
      take: (line) => this.#onLine(line),
      onInputDone: () => this.#quit(!this.#json),
    });
    this.#moderation = new ChatModeration({
      client: this.#client,
      out: this.#out,
      room: () => this.#rooms.current,
      resolve: (target, members) => this.#users.resolve(target, members),
      label: (room) => this.#label(room),
      problem: (code, message, extra) => this.#problem(code, message, extra),
      track: (p) => this.#drain.track(p),
    });
    this.#readMarks = new ReadMarks((room, id) => this.#client.markRead(room, id));
    this.#actions = new TimelineActions({
      client: this.#client,
      out: this.#out,
      drain: this.#drain,
      currentRoom: () => this.#rooms.current,
      lineOptions: () => this.#lineOptions(),
      problem: (code, message, extra) => this.#problem(code, message, extra),
      acked: (ack, fields) => this.#acked(ack, fields),
      sendFailed: (text) => this.#sendFailed(text),
      learn: (users) => this.#users.learn(users),
    });
  }

  /** Runs until /quit, the end of input, a signal, or a connection that cannot be made; resolves the exit code. */
  run(): Promise<number> {
    const client = this.#client;
    client.on('state', (s) => this.#onState(s));
    client.on('closed', (c) => {
      this.#out.event({ type: 'closed', ...c }, null);
      this.#end(1, this.#everOpen ? `disconnected for good: ${c.reason}` : `cannot connect to ${this.#base}: ${c.reason}`);
    });
    client.on('welcome', (w) => this.#onWelcome(w));
    client.on('chat', (m) => this.#onChat(m));
    client.on('edit', (e) => this.#onEdit(e));
    client.on('delete', (e) => this.#onDelete(e));
    client.on('react', (e) => this.#onReact(e));
    // Another connection of this user read a room: news for scripts only.
    client.on('read', (e) => this.#out.event({ type: 'read', ...e }, null));
    client.on('mention', (e) => this.#onMention(e));
    // A room this user can see appeared (/rooms lists it): news for scripts only.
    client.on('room', (e) => this.#out.event({ type: 'room', ...e }, null));
    client.on('join', (e) => {
      this.#users.learn([e.user]);
      this.#out.event({ type: 'join', ...e }, `* ${e.user.name} joined ${this.#label(e.room)}`);
    });
    client.on('left', (e) => this.#out.event({ type: 'left', ...e }, `* ${e.user.name} left ${this.#label(e.room)}`));
    client.on('list', (e) => this.#onList(e));
    client.on('typing', (e) => this.#out.event({ type: 'typing', ...e }, null));
    client.on('error', (e) => this.#onError(e));
    client.on('history_gap', (e) => this.#out.event({ type: 'history_gap', ...e }, `! ${this.#label(e.room)}: ${e.message}`));
    // The history_gap line before it already says so to a person; scripts get the new position.
    client.on('rewound', (e) => {
      this.#timelines.clear(e.room);
      this.#out.event({ type: 'rewound', ...e }, null);
    });
    this.#moderation.listen();

    this.#rl.on('line', (line) => this.#gate.push(line));
    this.#rl.on('close', () => this.#gate.endOfInput());
    this.#rl.on('SIGINT', () => this.#end(0));
    const onSignal = () => this.#end(0);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);

    return new Promise<number>((resolve) => {
      this.#resolve = resolve;
      this.#out.setRoom(this.#rooms.current);
      client.connect();
    });
  }

  #end(code: number, fatal?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#gate.stop();
    if (fatal) process.stderr.write(`parley chat: ${fatal}\n`);
    // What was shown last counts as read too.
    this.#readMarks.flush();
    this.#client.close();
    this.#rl.close();
    this.#resolve(code);
  }

  /**
   * /quit, or the end of input: what was asked is finished first (see QuitDrain). At the end of a
   * --json script's input that wait has no limit (it exits once every send has its ack); otherwise
   * it lasts QUIT_WAIT_MS at most, and Ctrl-C ends at once.
   */
  #quit(bounded: boolean): void {
    if (this.#ended || this.#quitting) return;
    this.#quitting = true;
    this.#gate.stop();
    if (bounded) setTimeout(() => this.#end(0), QUIT_WAIT_MS).unref();
    void this.#drain.drained().then(() => this.#end(0));
  }

  #label(room: string): string {
    return this.#users.label(room, this.#client.user?.id);
  }

  #lineOptions(): ChatLineOptions {
    return { label: (room) => this.#label(room), selfId: this.#client.user?.id };
  }

  /**
   * A message as a line, with its room (a DM's with the other user's name) unless it is `current`,
   * and the message it answers when this session has it.
   */
  #chatLine(m: ChatMessage, current: string | undefined): string {
    const answered = m.reply === undefined ? undefined : this.#timelines.message(m.room, m.reply);
    return formatChat(m, current, { ...this.#lineOptions(), answered });
  }

  #problem(code: string, message: string, extra: object = {}): void {
    this.#out.event({ type: 'error', code, message, ...extra }, `! ${message}`);
  }

  // --- the client's events ---

  #onState(s: ClientEvents['state']): void {
    if (s.state === 'reconnecting') {
      // Never connected at all: a wrong URL or a server that is down; say so once and stop.
      if (!this.#everOpen) return this.#end(1, `cannot connect to ${this.#base}: ${s.reason ?? 'connection failed'}`);
      const secs = ((s.delayMs ?? 0) / 1000).toFixed(1);
      this.#out.event({ type: 'state', ...s }, `* connection lost (${s.reason}); reconnecting in ${secs} s (attempt ${s.attempt})`);
    } else if (s.state === 'open') {
      this.#out.event({ type: 'state', state: s.state }, this.#everOpen ? '* reconnected' : null);
    } else if (s.state === 'connecting') {
      this.#out.event({ type: 'state', state: s.state }, null);
    }
  }

  #onWelcome(w: ClientEvents['welcome']): void {
    this.#users.learn([w.user]);
    const first = !this.#everOpen;
    this.#everOpen = true;
    this.#gate.connected();
    const current = this.#rooms.current;
    this.#out.event(
      w,
      first ? `* connected to ${this.#base} as ${w.user.name} (id ${w.user.id})${current ? `, room ${current}` : ''}. /help lists the commands.` : null,
    );
  }

  #onChat(m: ChatMessage): void {
    this.#users.learn([m.user]);
    this.#timelines.apply(m);
    this.#shown(m.room, m.id);
    this.#out.event({ type: 'chat', ...m }, this.#chatLine(m, this.#rooms.current));
    if (mentions(m, this.#client.user?.id)) this.#out.bell();
  }

  #onEdit(e: EditFrame): void {
    this.#timelines.apply(e);
    this.#shown(e.room, e.id);
    this.#out.event(e, formatEdit(e, this.#rooms.current, (room) => this.#label(room)));
  }

  #onDelete(e: DeleteFrame): void {
    const target = this.#timelines.message(e.room, e.target);
    this.#timelines.apply(e);
    this.#shown(e.room, e.id);
    this.#out.event(e, formatDelete(e, target, this.#rooms.current, (room) => this.#label(room)));
  }

  #onReact(e: ReactFrame): void {
    const target = this.#timelines.message(e.room, e.target);
    this.#timelines.apply(e);
    this.#shown(e.room, e.id);
    this.#out.event(e, formatReact(e, target, this.#rooms.current, (room) => this.#label(room)));
  }

  /** Message or event `id` of `room` is shown: it was read, and a line quitting waited for may be out. */
  #shown(room: string, id: number): void {
    this.#drain.echoed(room, id);
    this.#readMarks.shown(room, id);
  }

  /**
   * Someone named the user. In a room this client is in (or a DM, which comes to it) the message's
   * own line says so, and rings; elsewhere this line does.
   */
  #onMention(e: ClientEvents['mention']): void {
    this.#users.learn([e.user]);
    const shownAnyway = e.room.startsWith('dm:') || this.#client.joinedRooms.includes(e.room);
    const text = shownAnyway ? null : `* ${e.user.name} mentioned you in ${this.#label(e.room)} (#${e.id}): /join ${e.room} to read it`;
    this.#out.event({ type: 'mention', ...e }, text);
    if (text !== null) this.#out.bell();
  }

  #onList(e: ClientEvents['list']): void {
    this.#users.learn(e.data);
    const show = this.#rooms.listed(e.room);
    this.#out.event({ type: 'list', ...e }, show ? `* in ${this.#label(e.room)}: ${formatUsers(e.data)}` : null);
    // Only the list that answers a join this client asked for is shown: the lists after a reconnect
    // (a DM entered by an incoming message has no other) would show the same lines again. A person
    // who joins sees the recent conversation first (scripts ask with /history instead), and the
    // lines held for the room go on after it, as if read after it.
    if (show && !this.#json && e.lastId !== undefined && e.lastId > 0) {
      const room = e.room;
      const recent = this.#client.history(room, { before: e.lastId + 1, limit: RECENT_ON_JOIN }).then(
        (page) => {
          const { data } = page;
          // Senders seen in history count as known names too, for /dm and DM labels.
          this.#users.learn(data.map((m) => m.user));
          this.#timelines.addPage(room, page);
          this.#out.event({ type: 'recent', room, data }, data.map((m) => this.#chatLine(m, this.#rooms.current)).join('\n') || null);
          if (page.lastId !== undefined) this.#readMarks.shown(room, page.lastId);
        },
        () => {},
      );
      this.#drain.track(recent.finally(() => this.#gate.release(room)));
      return;
    }
    this.#gate.release(e.room);
  }

  #onError(e: ClientEvents['error']): void {
    const room = e.room;
    if (e.code === 'not_found' && room !== undefined && this.#rooms.createMissing(room)) return this.#createAndJoin(room);
    this.#out.event({ type: 'error', ...e }, `! ${e.code}: ${e.message}`);
    if (room === undefined) return;
    // Any refusal of a room being joined (not allowed, a name the server will not take, too many
    // requests): the client is not in it, and lines must not go there.
    if (this.#rooms.isAsked(room) && this.#rooms.refused(room)) {
      const current = this.#rooms.current;
      this.#out.event({ type: 'current', room: current ?? null }, current ? `* still in ${this.#label(current)}` : '* /join ROOM to go on');
    }
    this.#gate.release(room);
  }

  /** `/join ROOM` of a room that does not exist yet creates it (a public room), like IRC. */
  #createAndJoin(room: string): void {
    const created = createRoom(this.#base, room, { token: this.#token }).then(
      () => {
        this.#out.event({ type: 'created', room }, `* created room ${room}`);
        this.#client.join(room);
      },
      (err: unknown) => {
        if (err instanceof ParleyHttpError && err.status === 409) return this.#client.join(room);
        this.#problem(err instanceof ParleyHttpError ? err.code : 'failed', `cannot create room ${room}: ${describeError(err)}`, { room });
        this.#rooms.createFailed(room);
        this.#gate.release(room);
      },
    );
    this.#drain.track(created);
  }

  // --- the lines typed or piped in ---

  #onLine(line: string): void {
    const cmd = parseChatLine(line);
    if (cmd.kind === 'say' || cmd.kind === 'dm') this.#out.dropTypedLine(line);
    switch (cmd.kind) {
      case 'empty':
        return this.#out.promptAgain();
      case 'say':
        return this.#say(cmd.text);
      case 'join':
        return this.#join(cmd.room);
      case 'leave':
        return this.#leave(cmd.room);
      case 'dm':
        return this.#dm(cmd.target, cmd.text);
      case 'who':
        return this.#who();
      case 'history':
        return this.#history(cmd.limit);
      case 'timeline':
        // What changes a message comes back as a line of its own.
        if (cmd.command.kind !== 'search' && cmd.command.kind !== 'more') this.#out.dropTypedLine(line);
        return this.#actions.run(cmd.command);
      case 'rooms': {
        const rooms = this.#client.rooms;
        const joined = this.#client.joinedRooms;
        const text = `* rooms: ${rooms.join(', ') || 'none'}; joined: ${joined.map((r) => this.#label(r)).join(', ') || 'none'}`;
        return this.#out.event({ type: 'rooms', rooms, joined }, text);
      }
      case 'help':
        return this.#out.event({ type: 'help', commands: CHAT_COMMANDS_HELP }, CHAT_COMMANDS_HELP.map((l) => `  ${l}`).join('\n'));
      case 'moderate':
        return this.#moderation.run(cmd);
      case 'quit':
        return this.#quit(true);
      case 'invalid':
        return this.#problem('bad_command', cmd.message);
    }
  }

  #say(text: string): void {
    const room = this.#rooms.current;
    if (!room) return this.#problem('no_room', 'join a room first: /join ROOM');
    this.#drain.trackSend(this.#client.send(room, text).then((ack) => this.#acked(ack, { data: text }), this.#sendFailed(text)));
  }

  #dm(target: string, text: string): void {
    const current = this.#rooms.current;
    const id = this.#users.resolve(target, current ? this.#client.members(current) : []);
    if (id === undefined) return this.#problem('unknown_user', `no user named ${target} here (try /who, or give the user id)`);
    this.#drain.trackSend(this.#client.dm(id, text).then((ack) => this.#acked(ack, { data: text }), this.#sendFailed(text)));
  }

  /** A send or a change was acked; `fields` say which (`data`, or `action` and `target`…) in the JSON ack. */
  #acked(ack: Ack, fields: object): void {
    // Ids arrive in order per room: a last id at or past the ack's means its line is out.
    if (!this.#json && (this.#client.lastId(ack.room) ?? 0) < ack.id) this.#drain.expectEcho(ack.room, ack.id);
    this.#out.event({ type: 'ack', ...ack, ...fields }, null);
  }

  #sendFailed(text: string): (err: unknown) => void {
    return (err) => {
      const code = err instanceof ParleyError ? err.code : 'failed';
      // Closed before its ack: the server may well have stored it, so do not say it was not sent.
      if (code === 'closed') return this.#problem(code, `not confirmed: the chat closed before the server acknowledged "${text}"`, { data: text });
      this.#problem(code, `not sent (${code}): ${err instanceof Error ? err.message : String(err)}`, { data: text });
    };
  }

  #join(room: string): void {
    // A name the server would refuse is refused here, before anything is sent or held.
    const name = roomNameSchema.safeParse(room);
    if (!name.success) return this.#problem('bad_request', `cannot join ${room}: ${describeIssues(name.error)}`, { room });
    // A room this client is in already answers nothing: only a new one holds the next lines.
    if (this.#rooms.join(room)) this.#gate.holdFor(room);
  }

  #leave(room: string | undefined): void {
    const left = this.#rooms.leave(room);
    if (left === undefined) return this.#problem('not_joined', `not in ${room ?? this.#rooms.current ?? 'any room'}`);
    const current = this.#rooms.current;
    const text = `* you left ${this.#label(left)}${current ? `; now in ${current}` : '; /join ROOM to go on'}`;
    this.#out.event({ type: 'left_room', room: left, current: current ?? null }, text);
  }

  #who(): void {
    const room = this.#rooms.current;
    if (!room) return this.#problem('no_room', 'join a room first: /join ROOM');
    const users = this.#client.members(room);
    this.#out.event({ type: 'who', room, data: users }, `* in ${this.#label(room)}: ${formatUsers(users)}`);
  }

  /** Waits for the sends before it, so that it shows what was sent before it. */
  #history(limit = 20): void {
    const room = this.#rooms.current;
    if (!room) return this.#problem('no_room', 'join a room first: /join ROOM');
    const answer = this.#drain
      .sendsSettled()
      .then(() => this.#client.history(room, { limit }))
      .then(
        (page) => {
          const { data, more } = page;
          this.#users.learn(data.map((m) => m.user));
          this.#timelines.addPage(room, page);
          const lines = data.map((m) => this.#chatLine(m, room));
          const head =
            data.length === 0
              ? `* no messages in ${this.#label(room)} yet`
              : `* last ${data.length} message${data.length === 1 ? '' : 's'} of ${this.#label(room)}${more ? ' (older ones exist)' : ''}:`;
          this.#out.event({ type: 'history', room, data, more }, [head, ...lines].join('\n'));
          const newest = page.lastId ?? data.at(-1)?.id;
          if (newest !== undefined) this.#readMarks.shown(room, newest);
        },
        (err: unknown) => this.#problem(err instanceof ParleyError ? err.code : 'failed', `history: ${describeError(err)}`),
      );
    this.#drain.track(answer);
  }
}
