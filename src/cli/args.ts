/** Strict flag parsing with node:util parseArgs, turning its errors into one-line UsageErrors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = (err as Error).message;
    const flag = /'([^']+)'/.exec(message)?.[1];
    let line: string;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') line = `unknown option ${flag ?? ''}`.trim();
    else if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') line = message.split('\n')[0]!.replace(/\.$/, '');
    else line = message.split('\n')[0]!;
    throw new UsageError(`${line} (see parley ${command} --help)`);
  }
}
