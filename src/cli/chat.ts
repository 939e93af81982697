/**
 * `parley chat URL`: a chat in the terminal on the SDK. Interactive (readline) by default; with
 * --json it reads lines from stdin and prints one JSON object per event, for scripts and tests.
 */
import { createInterface, type Interface } from 'node:readline';
import { ParleyClient, ParleyError, ParleyHttpError, createRoom, httpBaseUrl, signIn, type Ack, type WireUser } from '../client/index.js';
import { parseCommandArgs } from './args.js';
import { CHAT_COMMANDS_HELP, parseChatLine } from './chat-commands.js';
import { clock, formatChat, formatUsers, roomLabel } from './chat-format.js';
import { CliError, UsageError, describeError } from './errors.js';
import { describeIssues } from '../issues.js';
import { roomNameSchema } from '../protocol/names.js';

export const CHAT_HELP = `Usage: parley chat URL [--name NAME [--password P] | --token TOKEN] [--room ROOM] [--json]

Chats on the Parley server at URL (its base URL, e.g. http://localhost:3000; ws:// works too).

  --name NAME       sign in as the guest NAME (with --password: log in to the account NAME)
  --password P      the account's password (with --name)
  --token TOKEN     use a session token instead (from POST /api/guest, /api/login, /api/register)
  --room ROOM       the room to join first (default: lobby)
  --json            read lines from stdin, print one JSON object per event on stdout
  -h, --help        show this help

Type a line to send it to the current room. Commands:
${CHAT_COMMANDS_HELP.map((l) => `  ${l}`).join('\n')}

The client reconnects by itself when the connection drops and shows each message once, in order.
In --json mode plain lines are sent to the current room and "/" lines are the commands above; each
event is printed as {"type": …} (welcome, chat, join, left, list, ack, error, state, who, history…);
lines after a /join of a new room wait until it is joined, and the command exits when stdin ends
and every send has its ack.`;

/** Where events go: JSON lines, or human lines in the terminal that keep the input line intact. */
interface Output {
  event(json: { type: string; [key: string]: unknown }, text: string | null): void;
  setRoom(room: string | undefined): void;
}

function jsonOutput(): Output {
  return {
    event: (json) => process.stdout.write(`${JSON.stringify(json)}\n`),
    setRoom: () => {},
  };
}

function terminalOutput(rl: Interface, terminal: boolean): Output {
  const promptFor = (room: string | undefined) => `${room ? roomLabel(room) : '(no room)'}> `;
  return {
    event(_json, text) {
      if (text === null) return;
      if (!terminal) {
        process.stdout.write(`${text}\n`);
        return;
      }
      // Print above the line being typed, then redraw the prompt and what was typed so far.
      process.stdout.write(`\r\x1b[2K${text}\n`);
      rl.prompt(true);
    },
    setRoom(room) {
      rl.setPrompt(promptFor(room));
      if (terminal) rl.prompt(true);
    },
  };
}

async function signInOrToken(base: string, values: { name?: string; password?: string; token?: string }): Promise<string> {
  if (values.token) return values.token;
  const name = values.name!;
  try {
    const session = values.password ? await signIn.login(base, name, values.password) : await signIn.guest(base, name);
    return session.token;
  } catch (err) {
    if (err instanceof ParleyHttpError) throw new CliError(`cannot sign in as ${name} at ${base}: ${err.message} (${err.status})`);
    throw new CliError(`cannot reach ${base}: ${describeError(err)}`);
  }
}

export async function runChat(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('chat', argv, {
    name: { type: 'string' },
    password: { type: 'string' },
    token: { type: 'string' },
    room: { type: 'string', default: 'lobby' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(CHAT_HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('missing URL (see parley chat --help)');
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]} (see parley chat --help)`);
  let base: string;
  try {
    base = httpBaseUrl(positionals[0]!);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.name !== undefined && values.token !== undefined) throw new UsageError('give either --name or --token, not both');
  if (values.name === undefined && values.token === undefined) throw new UsageError('give --name NAME (guest sign-in) or --token TOKEN');
  if (values.password !== undefined && values.name === undefined) throw new UsageError('--password needs --name');
  if (values.name !== undefined && values.name.trim() === '') throw new UsageError('--name must not be empty');

  const token = await signInOrToken(base, values);
  return runSession(new ParleyClient({ url: base, token }), base, token, values.room, values.json);
}

/** Messages shown when a room is joined interactively. */
const RECENT_ON_JOIN = 10;
/** How long lines after a join wait for its answer while connected, before they go anyway. */
const GATE_WAIT_MS = 3000;
/** How long /quit and the end of typed or piped input wait for the acks of what was just sent. */
const QUIT_WAIT_MS = 5000;

function runSession(client: ParleyClient, base: string, token: string, firstRoom: string, json: boolean): Promise<number> {
  const terminal = !json && process.stdin.isTTY === true && process.stdout.isTTY === true;
  const rl = createInterface({
    input: process.stdin,
    output: terminal ? process.stdout : undefined,
    terminal,
    crlfDelay: Infinity,
  });
  const out = json ? jsonOutput() : terminalOutput(rl, terminal);
  const names = new Map<number, string>();
  const pending = new Set<Promise<unknown>>();
  /** Sends not acked (or refused) yet: /history waits for them, so that it shows what was sent before it. */
  const sending = new Set<Promise<unknown>>();
  const listShown = new Set<string>();
  /** Rooms asked for with /join (or --room) whose list has not come yet: created when missing. */
  const joining = new Set<string>([firstRoom]);
  let current: string | undefined = firstRoom;
  /** The current room before the last /join, to go back to if the server refuses it. */
  let previousRoom: string | undefined;
  let everOpen = false;
  let ended = false;
  /** After /quit or the end of input: no more lines are taken, and the chat ends once `pending` settles. */
  let quitting = false;
  /**
   * Acked sends whose message has not come back as a chat line yet (`room id`). Without --json the
   * chat line is how a send shows, and a DM's can come after its ack: quitting waits for it too.
   */
  const unechoed = new Set<string>();
  let echoed: (() => void) | undefined;

  const learn = (users: WireUser[]) => users.forEach((u) => names.set(u.id, u.name));
  const label = (room: string) => {
    const ids = room.startsWith('dm:') ? room.slice(3).split(':').map(Number) : undefined;
    if (!ids) return room;
    const other = ids.find((id) => id !== client.user?.id) ?? ids[0]!;
    return `dm ${names.get(other) ?? `#${other}`}`;
  };
  /** Keeps `p` in `set` until it settles. */
  const keep = (set: Set<Promise<unknown>>, p: Promise<unknown>) => {
    set.add(p);
    void p.finally(() => set.delete(p));
  };
  const track = (p: Promise<unknown>) => keep(pending, p);
  const trackSend = (p: Promise<unknown>) => {
    keep(pending, p);
    keep(sending, p);
  };
  const problem = (code: string, message: string, extra: object = {}) =>
    out.event({ type: 'error', code, message, ...extra }, `! ${message}`);

  return new Promise<number>((resolve) => {
    const end = (code: number, fatal?: string) => {
      if (ended) return;
      ended = true;
      if (fatal) process.stderr.write(`parley chat: ${fatal}\n`);
      client.close();
      rl.close();
      resolve(code);
    };

    /*
     * Lines are handled in the order they come. While a room is being joined (the first one, or a
     * new one asked for with /join) the lines after it are held until its list comes, so that they
     * go to that room and /who and /dm see who is there: a script's `/join ROOM` then `hello` does
     * not send before the room exists. An error about the room, a failed create, or no answer within
     * GATE_WAIT_MS of being connected lets them go too.
     */
    const held: string[] = [];
    let gate: string | undefined = firstRoom;
    let gateTimer: NodeJS.Timeout | undefined;
    let stdinEnded = false;
    const armGateTimer = () => {
      clearTimeout(gateTimer);
      const room = gate;
      if (room !== undefined) gateTimer = setTimeout(() => openGate(room), GATE_WAIT_MS).unref();
    };
    const closeGate = (room: string) => {
      gate = room;
      if (everOpen) armGateTimer();
    };
    function openGate(room: string): void {
      if (gate !== room) return;
      gate = undefined;
      clearTimeout(gateTimer);
      // A /join among the held lines holds the rest again.
      while (gate === undefined && held.length > 0 && !ended && !quitting) onLine(held.shift()!);
      if (gate === undefined && stdinEnded) quit(!json);
    }

    client.on('state', (s) => {
      if (s.state === 'reconnecting') {
        // Never connected at all: a wrong URL or a server that is down; say so once and stop.
        if (!everOpen) return end(1, `cannot connect to ${base}: ${s.reason ?? 'connection failed'}`);
        const secs = ((s.delayMs ?? 0) / 1000).toFixed(1);
        out.event({ type: 'state', ...s }, `* connection lost (${s.reason}); reconnecting in ${secs} s (attempt ${s.attempt})`);
      } else if (s.state === 'open') {
        out.event({ type: 'state', state: s.state }, everOpen ? '* reconnected' : null);
      } else if (s.state === 'connecting') {
        out.event({ type: 'state', state: s.state }, null);
      }
    });
    client.on('closed', (c) => {
      out.event({ type: 'closed', ...c }, null);
      if (!ended) end(1, everOpen ? `disconnected for good: ${c.reason}` : `cannot connect to ${base}: ${c.reason}`);
    });
    client.on('welcome', (w) => {
      names.set(w.user.id, w.user.name);
      const first = !everOpen;
      everOpen = true;
      armGateTimer();
      out.event(
        w,
        first
          ? `* connected to ${base} as ${w.user.name} (id ${w.user.id})${current ? `, room ${current}` : ''}. /help lists the commands.`
          : null,
      );
    });
    client.on('chat', (m) => {
      names.set(m.user.id, m.user.name);
      if (unechoed.delete(`${m.room} ${m.id}`)) echoed?.();
      const text = m.room.startsWith('dm:')
        ? `${clock(m.ts)} [${label(m.room)}] ${m.user.name}: ${m.data}`
        : formatChat(m, current);
      out.event({ type: 'chat', ...m }, text);
    });
    client.on('join', (e) => {
      learn([e.user]);
      out.event({ type: 'join', ...e }, `* ${e.user.name} joined ${label(e.room)}`);
    });
    client.on('left', (e) => out.event({ type: 'left', ...e }, `* ${e.user.name} left ${label(e.room)}`));
    client.on('list', (e) => {
      learn(e.data);
      joining.delete(e.room);
      // Shown once per /join; the lists that follow each reconnect would only repeat it.
      const show = !listShown.has(e.room);
      listShown.add(e.room);
      out.event({ type: 'list', ...e }, show ? `* in ${label(e.room)}: ${formatUsers(e.data)}` : null);
      // A person who joins sees the recent conversation first (scripts ask with /history instead),
      // and the lines held for the room go on after it, as if read after it.
      if (show && !json && e.lastId !== undefined && e.lastId > 0) {
        const room = e.room;
        track(
          client
            .history(room, { before: e.lastId + 1, limit: RECENT_ON_JOIN })
            .then(
              ({ data }) => {
                // Senders seen in history count as known names too, for /dm and DM labels.
                learn(data.map((m) => m.user));
                out.event({ type: 'recent', room, data }, data.map((m) => formatChat(m, current)).join('\n') || null);
              },
              () => {},
            )
            .finally(() => openGate(room)),
        );
        return;
      }
      openGate(e.room);
    });
    client.on('typing', (e) => out.event({ type: 'typing', ...e }, null));
    client.on('error', (e) => {
      if (e.code === 'not_found' && e.room !== undefined && joining.has(e.room)) return createAndJoin(e.room);
      out.event({ type: 'error', ...e }, `! ${e.code}: ${e.message}`);
      // Any refusal of a room being joined (not allowed, a name the server will not take, too many
      // requests): the client is not in it, and lines must not go there.
      if (e.room !== undefined && joining.delete(e.room)) refusedJoin(e.room);
      if (e.room !== undefined) openGate(e.room);
    });
    // A /join the server refused: forget the room and go back to where we were.
    const refusedJoin = (room: string) => {
      client.leave(room);
      listShown.delete(room);
      if (current !== room) return;
      current = previousRoom !== room && previousRoom !== undefined && client.joinedRooms.includes(previousRoom)
        ? previousRoom
        : client.joinedRooms.find((r) => !r.startsWith('dm:'));
      out.event({ type: 'current', room: current ?? null }, current ? `* still in ${label(current)}` : '* /join ROOM to go on');
      out.setRoom(current);
    };
    // `/join ROOM` of a room that does not exist yet creates it (a public room), like IRC.
    const createAndJoin = (room: string) => {
      joining.delete(room);
      const created = createRoom(base, room, { token }).then(
        () => {
          out.event({ type: 'created', room }, `* created room ${room}`);
          client.join(room);
        },
        (err: unknown) => {
          if (err instanceof ParleyHttpError && err.status === 409) return client.join(room);
          problem(err instanceof ParleyHttpError ? err.code : 'failed', `cannot create room ${room}: ${describeError(err)}`, { room });
          if (current === room) {
            current = client.joinedRooms.find((r) => !r.startsWith('dm:'));
            out.setRoom(current);
          }
          openGate(room);
        },
      );
      track(created);
    };
    client.on('history_gap', (e) => out.event({ type: 'history_gap', ...e }, `! ${label(e.room)}: ${e.message}`));
    // The history_gap line before it already says so to a person; scripts get the new position.
    client.on('rewound', (e) => out.event({ type: 'rewound', ...e }, null));

    const sendFailed = (text: string) => (err: unknown) => {
      const code = err instanceof ParleyError ? err.code : 'failed';
      // Closed before its ack: the server may well have stored it, so do not say it was not sent.
      if (code === 'closed') return problem(code, `not confirmed: the chat closed before the server acknowledged "${text}"`, { data: text });
      problem(code, `not sent (${code}): ${err instanceof Error ? err.message : String(err)}`, { data: text });
    };

    const acked = (ack: Ack, text: string) => {
      // Ids arrive in order per room: a last id at or past the ack's means its chat line is out.
      if (!json && (client.lastId(ack.room) ?? 0) < ack.id) unechoed.add(`${ack.room} ${ack.id}`);
      out.event({ type: 'ack', ...ack, data: text }, null);
    };

    const resolveUser = (target: string): number | undefined => {
      if (/^[1-9][0-9]*$/.test(target)) return Number(target);
      const inRoom = current ? client.members(current) : [];
      const candidates = [...inRoom, ...[...names].map(([id, name]) => ({ id, name }))];
      return (
        candidates.find((u) => u.name === target)?.id ??
        candidates.find((u) => u.name.toLowerCase() === target.toLowerCase())?.id
      );
    };

    const onLine = (line: string) => {
      const cmd = parseChatLine(line);
      if (terminal && (cmd.kind === 'say' || cmd.kind === 'dm')) {
        // The message comes back as a chat line; drop the typed copy (as many rows as it wrapped to).
        const rows = Math.max(1, Math.ceil((rl.getPrompt().length + line.length) / (process.stdout.columns || 80)));
        process.stdout.write('\x1b[1A\x1b[2K'.repeat(rows));
      }
      switch (cmd.kind) {
        case 'empty':
          if (terminal) rl.prompt();
          return;
        case 'say': {
          if (!current) return problem('no_room', 'join a room first: /join ROOM');
          const room = current;
          trackSend(client.send(room, cmd.text).then((ack) => acked(ack, cmd.text), sendFailed(cmd.text)));
          return;
        }
        case 'join': {
          // A name the server would refuse is refused here, before anything is sent or held.
          const name = roomNameSchema.safeParse(cmd.room);
          if (!name.success) return problem('bad_request', `cannot join ${cmd.room}: ${describeIssues(name.error)}`, { room: cmd.room });
          listShown.delete(cmd.room);
          // A room this client is in already answers nothing: only a new one holds the next lines.
          if (!client.joinedRooms.includes(cmd.room)) closeGate(cmd.room);
          joining.add(cmd.room);
          client.join(cmd.room);
          previousRoom = current;
          current = cmd.room;
          out.setRoom(current);
          return;
        }
        case 'leave': {
          const room = cmd.room ?? current;
          if (!room || !client.joinedRooms.includes(room)) return problem('not_joined', `not in ${room ?? 'any room'}`);
          client.leave(room);
          listShown.delete(room);
          if (room === current) current = client.joinedRooms.find((r) => !r.startsWith('dm:'));
          out.event({ type: 'left_room', room, current: current ?? null }, `* you left ${label(room)}${current ? `; now in ${current}` : '; /join ROOM to go on'}`);
          out.setRoom(current);
          return;
        }
        case 'dm': {
          const id = resolveUser(cmd.target);
          if (id === undefined) return problem('unknown_user', `no user named ${cmd.target} here (try /who, or give the user id)`);
          trackSend(client.dm(id, cmd.text).then((ack) => acked(ack, cmd.text), sendFailed(cmd.text)));
          return;
        }
        case 'who': {
          if (!current) return problem('no_room', 'join a room first: /join ROOM');
          const users = client.members(current);
          out.event({ type: 'who', room: current, data: users }, `* in ${label(current)}: ${formatUsers(users)}`);
          return;
        }
        case 'history': {
          if (!current) return problem('no_room', 'join a room first: /join ROOM');
          const room = current;
          track(
            Promise.allSettled([...sending]).then(() => client.history(room, { limit: cmd.limit ?? 20 })).then(
              ({ data, more }) => {
                learn(data.map((m) => m.user));
                const lines = data.map((m) => formatChat(m, room));
                const head = data.length === 0 ? `* no messages in ${label(room)} yet` : `* last ${data.length} message${data.length === 1 ? '' : 's'} of ${label(room)}${more ? ' (older ones exist)' : ''}:`;
                out.event({ type: 'history', room, data, more }, [head, ...lines].join('\n'));
              },
              (err: unknown) => problem(err instanceof ParleyError ? err.code : 'failed', `history: ${describeError(err)}`),
            ),
          );
          return;
        }
        case 'rooms': {
          const rooms = client.rooms;
          const joined = client.joinedRooms;
          out.event({ type: 'rooms', rooms, joined }, `* rooms: ${rooms.join(', ') || 'none'}; joined: ${joined.map(label).join(', ') || 'none'}`);
          return;
        }
        case 'help':
          out.event({ type: 'help', commands: CHAT_COMMANDS_HELP }, CHAT_COMMANDS_HELP.map((l) => `  ${l}`).join('\n'));
          return;
        case 'quit':
          return quit(true);
        case 'invalid':
          return problem('bad_command', cmd.message);
      }
    };

    rl.on('line', (line) => {
      if (ended || quitting) return;
      if (gate !== undefined || held.length > 0) held.push(line);
      else onLine(line);
    });
    rl.on('SIGINT', () => end(0));
    /**
     * /quit, or the end of input: what was asked is finished first (acks, history answers, and
     * without --json the chat lines of what was sent), so that `echo "build done" | parley chat URL
     * --name ci` shows its message delivered. At the end of a --json script's input that wait has no
     * limit (it exits once every send has its ack); otherwise it lasts QUIT_WAIT_MS at most, and
     * Ctrl-C ends at once.
     */
    function quit(bounded: boolean): void {
      if (ended || quitting) return;
      quitting = true;
      if (bounded) setTimeout(() => end(0), QUIT_WAIT_MS).unref();
      const drain = (): void => {
        echoed = undefined;
        if (ended) return;
        if (pending.size > 0) return void Promise.allSettled([...pending]).then(drain);
        if (unechoed.size > 0) return void (echoed = drain);
        end(0);
      };
      drain();
    }
    rl.on('close', () => {
      stdinEnded = true;
      if (gate === undefined && held.length === 0) quit(!json);
    });
    const onSignal = () => end(0);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);

    client.join(firstRoom);
    out.setRoom(current);
    client.connect();
  });
}
