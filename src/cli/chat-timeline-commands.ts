/**
 * The `parley chat` commands that work on a room's timeline: /edit, /delete, /reply, /react,
 * /unreact (on message ids of the current room, as the lines show them: `#12`) and /search, /more.
 * Every argument is checked here, so a bad one is refused before anything is sent.
 */
import { isEmoji } from '../client/index.js';
import { roomNameSchema } from '../protocol/names.js';
import { SEARCH_QUERY_MAX } from '../protocol/limits.js';

export type TimelineCommand =
  | { kind: 'edit'; id: number; text: string }
  | { kind: 'delete'; id: number }
  | { kind: 'reply'; id: number; text: string }
  | { kind: 'react'; id: number; emoji: string; on: boolean }
  | { kind: 'search'; q: string; room?: string }
  | { kind: 'more' };

export const TIMELINE_COMMANDS_HELP = [
  '/reply ID TEXT        answer message ID (the #12 of its line) of the current room',
  '/edit ID TEXT         change the text of your message ID',
  '/delete ID            delete message ID (yours; any, as a moderator)',
  '/react ID EMOJI       react to message ID with one emoji',
  '/unreact ID EMOJI     take your reaction back',
  '/search [#ROOM] WORDS find messages in every room you can read (or in ROOM), newest first',
  '/more                 the next page of the last /search',
];

const USAGE: Record<TimelineCommand['kind'], string> = {
  edit: 'usage: /edit ID TEXT',
  delete: 'usage: /delete ID',
  reply: 'usage: /reply ID TEXT',
  react: 'usage: /react ID EMOJI',
  search: 'usage: /search [#ROOM] WORDS',
  more: 'usage: /more',
};

const ID_HELP = 'ID is a message number of the current room, as its line shows it (#12 or 12)';

/** A message id as typed: `12` or `#12`. */
function messageId(word: string | undefined): number | undefined {
  const match = /^#?([1-9][0-9]{0,15})$/.exec(word ?? '');
  const id = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(id) ? id : undefined;
}

/**
 * The command `/name rest` when it is one of these (undefined otherwise), or the reason it cannot
 * be used: `{ invalid }`.
 */
export function parseTimelineCommand(name: string, rest: string): TimelineCommand | { invalid: string } | undefined {
  switch (name) {
    case 'edit':
    case 'reply': {
      const match = /^(\S+)\s+(.+)$/s.exec(rest);
      if (!match) return { invalid: USAGE[name] };
      const id = messageId(match[1]);
      if (id === undefined) return { invalid: `${USAGE[name]}: ${ID_HELP}, not "${match[1]}"` };
      return { kind: name, id, text: match[2]! };
    }
    case 'delete': {
      const words = rest === '' ? [] : rest.split(/\s+/);
      if (words.length !== 1) return { invalid: USAGE.delete };
      const id = messageId(words[0]);
      return id === undefined ? { invalid: `${USAGE.delete}: ${ID_HELP}, not "${words[0]}"` } : { kind: 'delete', id };
    }
    case 'react':
    case 'unreact': {
      const words = rest === '' ? [] : rest.split(/\s+/);
      if (words.length !== 2) return { invalid: `usage: /${name} ID EMOJI` };
      const id = messageId(words[0]);
      if (id === undefined) return { invalid: `usage: /${name} ID EMOJI: ${ID_HELP}, not "${words[0]}"` };
      if (!isEmoji(words[1]!)) return { invalid: `usage: /${name} ID EMOJI: "${words[1]}" is not one emoji` };
      return { kind: 'react', id, emoji: words[1]!, on: name === 'react' };
    }
    case 'search':
      return parseSearch(rest);
    case 'more':
      return rest === '' ? { kind: 'more' } : { invalid: USAGE.more };
    default:
      return undefined;
  }
}

function parseSearch(rest: string): TimelineCommand | { invalid: string } {
  // Room names have no "#", so `#name` in front can only name a room.
  const match = /^#(\S+)\s*(.*)$/s.exec(rest);
  const q = (match ? match[2]! : rest).trim();
  if (q === '') return { invalid: USAGE.search };
  if (q.length > SEARCH_QUERY_MAX) return { invalid: `/search: the words must be at most ${SEARCH_QUERY_MAX} characters` };
  if (!match) return { kind: 'search', q };
  const room = match[1]!;
  if (!roomNameSchema.safeParse(room).success) return { invalid: `/search: "${room}" is not a room name` };
  return { kind: 'search', q, room };
}
