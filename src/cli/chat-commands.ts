/** The lines a `parley chat` user types: plain text is a message, `/…` is a command. */
import { MODERATION_COMMANDS_HELP, parseModerationCommand, type ModerationCommand } from './chat-moderation.js';
import { parseTimelineCommand, TIMELINE_COMMANDS_HELP, type TimelineCommand } from './chat-timeline-commands.js';

export type ChatCommand =
  | { kind: 'say'; text: string }
  | { kind: 'join'; room: string }
  | { kind: 'leave'; room?: string }
  | { kind: 'dm'; target: string; text: string }
  | { kind: 'who' }
  | { kind: 'history'; limit?: number }
  | { kind: 'rooms' }
  | { kind: 'timeline'; command: TimelineCommand }
  | { kind: 'help' }
  | { kind: 'quit' }
  | ModerationCommand
  | { kind: 'empty' }
  | { kind: 'invalid'; message: string };

export const CHAT_COMMANDS_HELP = [
  '/join ROOM            join ROOM (created when new) and make it the current room',
  '/leave [ROOM]         leave ROOM (default: the current room)',
  '/dm USER TEXT         send a direct message to USER (a name in the room, or a user id)',
  '/who                  who is in the current room',
  '/history [N]          the last N messages of the current room (default 20)',
  '/rooms                the rooms you can see, and the ones you joined',
  ...TIMELINE_COMMANDS_HELP,
  ...MODERATION_COMMANDS_HELP,
  '/help                 this list',
  '/quit                 leave the chat (Ctrl-D and Ctrl-C too)',
  '//TEXT                send a message that starts with "/"',
];

export function parseChatLine(line: string): ChatCommand {
  const trimmed = line.trim();
  if (trimmed === '') return { kind: 'empty' };
  if (trimmed.startsWith('//')) return { kind: 'say', text: line.replace(/^\s*\//, '') };
  if (!trimmed.startsWith('/')) return { kind: 'say', text: line };
  const match = /^\/(\S+)\s*(.*)$/s.exec(trimmed);
  const name = match?.[1]?.toLowerCase() ?? '';
  const rest = match?.[2]?.trim() ?? '';
  const words = rest === '' ? [] : rest.split(/\s+/);
  switch (name) {
    case 'join':
      return words.length === 1 ? { kind: 'join', room: words[0]! } : { kind: 'invalid', message: 'usage: /join ROOM' };
    case 'leave':
    case 'part':
      if (words.length > 1) return { kind: 'invalid', message: 'usage: /leave [ROOM]' };
      return words[0] === undefined ? { kind: 'leave' } : { kind: 'leave', room: words[0] };
    case 'dm':
    case 'msg': {
      const dm = /^(\S+)\s+(.+)$/s.exec(rest);
      return dm ? { kind: 'dm', target: dm[1]!, text: dm[2]! } : { kind: 'invalid', message: 'usage: /dm USER TEXT' };
    }
    case 'who':
      return { kind: 'who' };
    case 'history': {
      if (words.length === 0) return { kind: 'history' };
      const n = Number(words[0]);
      return words.length === 1 && Number.isInteger(n) && n >= 1 && n <= 100
        ? { kind: 'history', limit: n }
        : { kind: 'invalid', message: 'usage: /history [N], N from 1 to 100' };
    }
    case 'rooms':
      return { kind: 'rooms' };
    case 'help':
    case '?':
      return { kind: 'help' };
    case 'quit':
    case 'exit':
      return { kind: 'quit' };
    default: {
      const timeline = parseTimelineCommand(name, rest);
      if (timeline !== undefined) return 'invalid' in timeline ? { kind: 'invalid', message: timeline.invalid } : { kind: 'timeline', command: timeline };
      return parseModerationCommand(name, words) ?? { kind: 'invalid', message: `unknown command /${name} (try /help)` };
    }
  }
}
