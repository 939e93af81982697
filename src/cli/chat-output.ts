/** Where `parley chat` prints: JSON lines for scripts, or human lines that keep the line being typed intact. */
import type { Interface } from 'node:readline';
import { roomLabel } from './chat-format.js';

export interface Output {
  /** One event: `json` with --json, otherwise `text` (null: nothing to show a person). */
  event(json: { type: string; [key: string]: unknown }, text: string | null): void;
  /** The current room changed: the prompt names it. */
  setRoom(room: string | undefined): void;
  /** A message was typed: its typed copy goes, since it comes back as a chat line. */
  dropTypedLine(line: string): void;
  /** An empty line was typed: prompt again. */
  promptAgain(): void;
  /** Someone named the user: the terminal's bell rings (when stdout is a terminal). */
  bell(): void;
}

export function jsonOutput(): Output {
  return {
    event: (json) => process.stdout.write(`${JSON.stringify(json)}\n`),
    setRoom: () => {},
    dropTypedLine: () => {},
    promptAgain: () => {},
    bell: () => {},
  };
}

/** Human lines: in a terminal (`terminal`) above the line being typed, otherwise plain lines (piped). */
export function textOutput(rl: Interface, terminal: boolean): Output {
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
    dropTypedLine(line) {
      if (!terminal) return;
      // As many rows as the prompt and the line wrapped to.
      const rows = Math.max(1, Math.ceil((rl.getPrompt().length + line.length) / (process.stdout.columns || 80)));
      process.stdout.write('\x1b[1A\x1b[2K'.repeat(rows));
    },
    promptAgain() {
      if (terminal) rl.prompt();
    },
    bell() {
      // Into a pipe or a file it would only be a stray control character.
      if (process.stdout.isTTY) process.stdout.write('\x07');
    },
  };
}
