/**
 * `parley admin URL ban|unban USER`: an admin (a registered account named in the server's ADMINS)
 * bans a user everywhere, or lifts that ban, through the HTTP API (POST|DELETE /api/users/:id/ban).
 */
import { ParleyHttpError, findUsers, httpBaseUrl, moderation, signIn } from '../client/index.js';
import type { SelfUser } from '../client/index.js';
import { nameKey } from '../protocol/names.js';
import { parseCommandArgs } from './args.js';
import { CliError, UsageError, describeError } from './errors.js';

export const ADMIN_HELP = `Usage: parley admin URL ban|unban USER (--name ADMIN [--password P] | --token TOKEN)

Bans USER from the whole Parley server at URL, or lifts that ban. A ban closes every connection
of the user on every node (close code 4003), ends their sessions at once, and keeps them from
signing in; nobody may take their name as a guest. Only an admin may: a registered account named
in the server's ADMINS setting.

  USER              a user id (e.g. 42), or a name: an account's, or a guest's when no other user has it
  --name ADMIN      log in as the admin account ADMIN
  --password P      its password (or set PARLEY_PASSWORD, which keeps it out of the shell's history)
  --token TOKEN     use a session token of the admin instead
  -h, --help        show this help`;

const ACTIONS = ['ban', 'unban'] as const;
type Action = (typeof ACTIONS)[number];

export async function runAdmin(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('admin', argv, {
    name: { type: 'string' },
    password: { type: 'string' },
    token: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(ADMIN_HELP);
    return 0;
  }
  const [url, action, target, extra] = positionals;
  if (url === undefined) throw new UsageError('missing URL (see parley admin --help)');
  if (action === undefined || !(ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`${action === undefined ? 'missing action' : `unknown action ${action}`}: ban or unban (see parley admin --help)`);
  }
  if (target === undefined || target.trim() === '') throw new UsageError(`missing USER to ${action} (see parley admin --help)`);
  if (extra !== undefined) throw new UsageError(`unexpected argument ${extra} (see parley admin --help)`);
  let base: string;
  try {
    base = httpBaseUrl(url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.name !== undefined && values.token !== undefined) throw new UsageError('give either --name or --token, not both');
  const password = values.password ?? process.env.PARLEY_PASSWORD;
  if (values.token === undefined && (values.name === undefined || password === undefined)) {
    throw new UsageError('give --name ADMIN with --password (or PARLEY_PASSWORD), or --token TOKEN');
  }

  try {
    const token = values.token ?? (await signIn.login(base, values.name!, password!)).token;
    const user = await resolveUser(base, target.trim(), token);
    const done = await moderation.banEverywhere(base, user.id, (action as Action) === 'ban', token);
    console.log(
      action === 'ban'
        ? `banned ${done.name} (id ${done.id}) everywhere: their connections are closed and their sessions ended`
        : `lifted the ban of ${done.name} (id ${done.id}): they may sign in again`,
    );
    return 0;
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof ParleyHttpError) throw new CliError(`cannot ${action} ${target}: ${err.message} (${err.status} ${err.code})`);
    throw new CliError(`cannot reach ${base}: ${describeError(err)}`);
  }
}

/** The user an id or a name means; a name shared by several users (guests may share one) is refused. */
async function resolveUser(base: string, target: string, token: string): Promise<{ id: number; name: string }> {
  if (/^\d+$/.test(target)) return { id: Number(target), name: `#${target}` };
  const key = nameKey(target);
  const found = (await findUsers(base, target, { limit: 50, token })).filter((u) => nameKey(u.name) === key);
  const accounts = found.filter((u) => !u.guest);
  const [only] = accounts.length === 1 ? accounts : found.length === 1 ? found : [];
  if (only) return only;
  if (found.length === 0) throw new CliError(`no user named ${target}`);
  throw new CliError(`${found.length} users are named ${target} (${describeUsers(found)}): give the id`);
}

const describeUsers = (users: SelfUser[]) => users.map((u) => `id ${u.id}${u.guest ? ', a guest' : ''}`).join('; ');
