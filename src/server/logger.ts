/**
 * The server's log. JSON lines by default, one object a line, for whatever collects them (journald,
 * docker, a file, a pipe into jq); pretty lines (pino-pretty) for a person reading a terminal.
 */
import { pino, type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT, or when unset: pretty on a terminal (a person reads it), json anywhere else (a program does). */
export function chooseLogFormat(setting: LogFormat | undefined, stdoutIsTerminal: boolean): LogFormat {
  return setting ?? (stdoutIsTerminal ? 'pretty' : 'json');
}

export function createLogger(level: string, format: LogFormat): Logger {
  if (format === 'json') return pino({ level });
  // pino-pretty as a transport runs on a thread of its own: formatting and the terminal's writes stay
  // off the event loop that serves the sockets.
  return pino({
    level,
    transport: {
      target: 'pino-pretty',
      options: { colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true },
    },
  });
}
