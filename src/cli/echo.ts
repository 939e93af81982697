/**
 * `parley echo URL [TEXT…]`: the seeds' client.js as a command. Connects to /ws/echo, sends each
 * text (or each line of stdin when no text is given), prints each reply, and exits.
 */
import { createInterface } from 'node:readline';
import { WebSocket } from 'ws';
import { httpBaseUrl, webSocketUrl } from '../client/url.js';
import { parseCommandArgs } from './args.js';
import { CloseCode } from '../protocol/close-codes.js';
import { CliError, UsageError, describeError } from './errors.js';

export const ECHO_HELP = `Usage: parley echo URL [TEXT...]

Connects to URL's /ws/echo endpoint, sends each TEXT as a text frame (or, with no TEXT, each line
of stdin), prints each reply on its own line, and exits when every text has its reply.

  URL           the server's base URL, e.g. http://localhost:3000 (ws://, wss:// work too)
  --timeout MS  how long to wait for a reply before giving up (default 10000)
  -h, --help    show this help

Example: parley echo http://localhost:3000 Hello!   prints   ECHO: Hello!`;

export async function runEcho(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('echo', argv, {
    help: { type: 'boolean', short: 'h' },
    timeout: { type: 'string' },
  });
  if (values.help) {
    console.log(ECHO_HELP);
    return 0;
  }
  const [url, ...texts] = positionals;
  if (!url) throw new UsageError('missing URL (see parley echo --help)');
  const timeoutMs = values.timeout === undefined ? 10_000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout must be a positive number of milliseconds');
  let wsUrl: string;
  try {
    wsUrl = webSocketUrl(httpBaseUrl(url), '/ws/echo');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  const ws = await connect(wsUrl);
  return new Promise<number>((resolve, reject) => {
    let outstanding = 0;
    let inputDone = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;

    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      ws.removeAllListeners('close');
      ws.close(1000);
      if (err) reject(err);
      else resolve(0);
    };
    const armTimer = () => {
      if (timer) clearTimeout(timer);
      timer = outstanding > 0 ? setTimeout(() => finish(new CliError(`no reply from ${wsUrl} within ${timeoutMs} ms`)), timeoutMs) : undefined;
    };
    const maybeDone = () => {
      if (inputDone && outstanding === 0) finish();
    };
    const send = (text: string) => {
      outstanding += 1;
      ws.send(text);
      armTimer();
    };

    ws.on('message', (data, isBinary) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      process.stdout.write(isBinary ? `<${bytes.length} binary bytes>\n` : `${bytes.toString('utf8')}\n`);
      outstanding = Math.max(0, outstanding - 1);
      armTimer();
      maybeDone();
    });
    ws.on('close', (code, reason) =>
      finish(new CliError(`the server closed the connection before every reply came: ${describeClose(code, reason.toString())}`)),
    );
    ws.on('error', (err) => finish(new CliError(`connection to ${wsUrl} failed: ${describeError(err)}`)));

    if (texts.length > 0) {
      for (const text of texts) send(text);
      inputDone = true;
      maybeDone();
    } else {
      const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
      rl.on('line', (line) => {
        if (!finished) send(line);
      });
      rl.on('close', () => {
        inputDone = true;
        maybeDone();
      });
    }
  });
}

function connect(wsUrl: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { handshakeTimeout: 10_000 });
    ws.once('open', () => {
      ws.removeAllListeners('error');
      resolve(ws);
    });
    ws.once('unexpected-response', (_req, res) => {
      reject(new CliError(`cannot connect to ${wsUrl}: the server answered ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
      ws.terminate();
    });
    ws.on('error', (err) => reject(new CliError(`cannot connect to ${wsUrl}: ${describeError(err)}`)));
  });
}

/** What the close codes the server uses mean (ws sends 1009 without a reason of its own). */
const CLOSE_MEANING: Record<number, string> = {
  [CloseCode.goingAway]: 'the server is going away',
  [CloseCode.policyViolation]: 'policy violation',
  [CloseCode.tooBig]: "a message was larger than the server's MAX_PAYLOAD",
  [CloseCode.internalError]: 'internal error',
  [CloseCode.tryAgainLater]: 'try again later',
};

function describeClose(code: number, reason: string): string {
  const meaning = reason || CLOSE_MEANING[code];
  return meaning ? `${meaning} (close code ${code})` : `close code ${code}`;
}
