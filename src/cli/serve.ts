/** `parley serve`: runs the server until SIGINT/SIGTERM, then stops gracefully within 10 s. */
import { parseArgs } from 'node:util';
import { ConfigError, flagName, loadConfig, settings, type Config, type SettingName } from '../server/config.js';
import { startParley, type ParleyServer } from '../server/app.js';
import { chooseLogFormat, createLogger } from '../server/logger.js';
import { SettingError } from '../server/tls-files.js';

const SHUTDOWN_LIMIT_MS = 10_000;

export function serveHelp(): string {
  const rows = Object.entries(settings).map(([name, s]) => {
    const flag = `${flagName(name)} VALUE`.padEnd(28);
    const def = s.default === undefined ? 'unset' : s.default === '' ? 'none' : s.default;
    return `  ${flag} ${name} (default: ${def}) ${s.help}`;
  });
  return ['Usage: parley serve [options]', '', 'Each option can also be set by its environment variable; a flag wins.', '', ...rows, '  -h, --help'].join('\n');
}

export async function runServe(argv: string[]): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const name of Object.keys(settings)) options[flagName(name).slice(2)] = { type: 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    fail(`${(err as Error).message}\nRun "parley serve --help" for the options.`);
  }
  if (values.help) {
    console.log(serveHelp());
    return;
  }
  const flags: Partial<Record<SettingName, string>> = {};
  for (const name of Object.keys(settings) as SettingName[]) {
    const v = values[flagName(name).slice(2)];
    if (typeof v === 'string') flags[name] = v;
  }
  let config;
  try {
    config = loadConfig(process.env, flags);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  let server: ParleyServer | undefined;
  // Without its store the server can only refuse work: exit non-zero so a supervisor restarts it.
  const onFatal = () => {
    setTimeout(() => process.exit(1), SHUTDOWN_LIMIT_MS).unref();
    void server?.close().finally(() => process.exit(1));
  };
  const terminal = process.stdout.isTTY === true;
  const logger = createLogger(config.logLevel, chooseLogFormat(config.logFormat, terminal));
  try {
    server = await startParley(config, { onFatal, logger });
  } catch (err) {
    fail(startFailure(err, config, (setting) => (flags[setting] === undefined ? setting : flagName(setting))));
  }
  const running = server;
  // After the log lines of the start, which the pretty log writes from its own thread.
  if (terminal) running.logger.flush(() => process.stdout.write(`${readyLine(running, config)}\n`));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      running.logger.error('shutdown took longer than 10 s: exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS);
    timer.unref();
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

/** The line a person at a terminal reads once the server is up: where to open it, where its data is, whether guests get in. */
function readyLine(server: Pick<ParleyServer, 'url' | 'port'>, config: Config): string {
  const everywhere = config.host === '0.0.0.0' || config.host === '::';
  const guests = !config.guests
    ? 'guest sign-in off'
    : everywhere
      ? `guest sign-in on: anyone who can reach port ${server.port} of this machine can chat`
      : 'guest sign-in on';
  return `Parley is ready: open ${server.url} (data in ${config.dataDir}; ${guests})`;
}

/** Why the server could not start, naming the setting to change as it was given (`HOST` or `--host`). */
function startFailure(err: unknown, config: Config, given: (setting: SettingName) => string): string {
  if (err instanceof SettingError) return `${given(err.setting)}=${err.value}: ${err.problem}`;
  const e = err as NodeJS.ErrnoException;
  const host = `${given('HOST')}=${config.host}`;
  switch (e.code) {
    case 'EADDRINUSE':
      return `port ${config.port} on ${config.host} is in use: pick another with --port or PORT`;
    case 'EACCES':
      return `${given('PORT')}=${config.port}: not allowed to listen on it at ${config.host} (ports below 1024 need privileges)`;
    case 'ENOTFOUND':
      return `${host}: no such address on this machine, nor a host name it knows (e.g. 127.0.0.1 for this machine only, 0.0.0.0 for every network)`;
    case 'EAI_AGAIN':
      return `${host}: cannot look this host name up now (the name server did not answer)`;
    case 'EADDRNOTAVAIL':
      return `${host}: no such address on this machine`;
    default:
      return e.message;
  }
}

function fail(message: string): never {
  console.error(`parley serve: ${message}`);
  process.exit(2);
}
