/** `parley serve`: runs the server until SIGINT/SIGTERM, then stops gracefully within 10 s. */
import { parseArgs } from 'node:util';
import { ConfigError, flagName, loadConfig, settings, type SettingName } from '../server/config.js';
import { startParley, type ParleyServer } from '../server/app.js';

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
  try {
    server = await startParley(config, { onFatal });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') fail(`port ${config.port} on ${config.host} is in use: pick another with --port or PORT`);
    if (e.code === 'EACCES') fail(`not allowed to listen on ${config.host}:${config.port}`);
    fail(e.message);
  }
  const running = server;
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

function fail(message: string): never {
  console.error(`parley serve: ${message}`);
  process.exit(2);
}
