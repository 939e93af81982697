/** A pino logger whose lines a test can read back, as text or as parsed records. */
import { Writable } from 'node:stream';
import { pino, type Level, type Logger } from 'pino';

export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export function captureLogs(level: Level = 'info'): { logger: Logger; lines: string[]; records(): LogRecord[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino<never>({ level }, sink), lines, records: () => lines.map((l) => JSON.parse(l) as LogRecord) };
}
