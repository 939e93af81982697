/**
 * `parley chat URL`: a chat in the terminal on the SDK. Interactive (readline) by default; with
 * --json it reads lines from stdin and prints one JSON object per event, for scripts and tests.
 * This file reads the command line and signs in; chat-session.ts runs the chat.
 */
import { ParleyClient, ParleyHttpError, httpBaseUrl, signIn } from '../client/index.js';
import { parseCommandArgs } from './args.js';
import { CHAT_COMMANDS_HELP } from './chat-commands.js';
import { ChatSession } from './chat-session.js';
import { CliError, UsageError, describeError } from './errors.js';

export const CHAT_HELP = `Usage: parley chat URL [--name NAME [--password P] | --token TOKEN] [--room ROOM] [--json]

Chats on the Parley server at URL (its base URL, e.g. http://localhost:3000; ws:// works too).

  --name NAME       sign in as the guest NAME (with --password: log in to the account NAME)
  --password P      the account's password (with --name)
  --token TOKEN     use a session token instead (from POST /api/guest, /api/login, /api/register)
  --room ROOM       the room to join first (default: lobby)
  --json            read lines from stdin, print one JSON object per event on stdout
  -h, --help        show this help

Type a line to send it to the current room. Each message shows its id (#12): the commands that
change a message take it. Commands:
${CHAT_COMMANDS_HELP.map((l) => `  ${l}`).join('\n')}

The client reconnects by itself when the connection drops and shows each message once, in order.
In --json mode plain lines are sent to the current room and "/" lines are the commands above; each
event is printed as {"type": …} (welcome, chat, edit, delete, react, read, mention, room, join, left,
list, ack, error, state, who, history, search…); lines after a /join of a new room wait until it
is joined, and the command exits when stdin ends and every send has its ack.`;

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
  return new ChatSession({ client: new ParleyClient({ url: base, token }), base, token, firstRoom: values.room, json: values.json }).run();
}
