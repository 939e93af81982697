/**
 * The `parley` command: `serve` runs the server, `chat` and `echo` are terminal clients, `admin`
 * bans a user from the server.
 * bin/parley.js imports the compiled version of this file; in development:
 * `node --import tsx src/cli/main.ts …`.
 */
import { readFileSync } from 'node:fs';
import { CliError, UsageError, describeError } from './errors.js';

const HELP = `parley: a real-time chat server and its terminal clients

Usage:
  parley [serve] [options]        run the server (parley serve --help lists every setting)
  parley chat URL [options]       chat in the terminal (parley chat --help)
  parley echo URL [TEXT...]       send texts to the server's /ws/echo and print the replies
  parley admin URL ban|unban USER ban a user from the whole server, or lift it (parley admin --help)

URL is the server's base URL, e.g. http://localhost:3000 (ws:// and wss:// work too).

Options:
  -h, --help      show this help, or a command's with parley COMMAND --help
  -v, --version   print the version`;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Runs a command line; resolves the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case '-h':
    case '--help':
    case 'help':
      console.log(HELP);
      return 0;
    case '-v':
    case '--version':
      console.log(version());
      return 0;
    // `npx parley` alone runs the server with its defaults, like `npm start`.
    case undefined:
    case 'serve': {
      // Loaded only here, so that the clients never load the server.
      const { runServe } = await import('./serve.js');
      await runServe(rest);
      return 0;
    }
    case 'chat': {
      endWhenReaderLeaves();
      const { runChat } = await import('./chat.js');
      return runChat(rest);
    }
    case 'admin': {
      const { runAdmin } = await import('./admin.js');
      return runAdmin(rest);
    }
    case 'echo': {
      endWhenReaderLeaves();
      const { runEcho } = await import('./echo.js');
      return runEcho(rest);
    }
    default:
      throw new UsageError(`unknown command ${command} (see parley --help)`);
  }
}

/**
 * A client whose output pipe closed (`parley chat … | head -1`) ends quietly, as other Unix tools
 * do on SIGPIPE: Node ignores the signal and gives an EPIPE error instead, which would end the
 * process with a stack trace.
 */
function endWhenReaderLeaves(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

function report(err: unknown): number {
  const command = process.argv[2] && !process.argv[2].startsWith('-') ? ` ${process.argv[2]}` : '';
  if (err instanceof UsageError) {
    process.stderr.write(`parley${command}: ${err.message}\n`);
    return 2;
  }
  process.stderr.write(`parley${command}: ${err instanceof CliError ? err.message : describeError(err)}\n`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // `serve` returns once the server has stopped; a client's leftovers (stdin) must not keep it alive.
    if (process.argv[2] !== undefined && process.argv[2] !== 'serve') setTimeout(() => process.exit(), 1000).unref();
  },
  (err: unknown) => {
    process.exitCode = report(err);
    // Whatever is still open (a socket, stdin) must not keep a failed command alive.
    setTimeout(() => process.exit(), 500).unref();
  },
);
