/**
 * The server's configuration: one typed object, built once at start from the environment and the
 * `parley serve` flags (flags win), validated with a clear message for each bad value.
 */
import { BlockList, isIP } from 'node:net';
import { hostname } from 'node:os';
import { z } from 'zod';
import { checkInput } from '../issues.js';
import { userNameSchema } from '../protocol/names.js';

const int = (min: number, max: number) => {
  const range = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: range }).int({ error: range }).min(min, { error: range }).max(max, { error: range });
};
const bool = z
  .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no'], { error: 'must be on or off (true/false, yes/no and 1/0 work too)' })
  .transform((v) => ['1', 'true', 'on', 'yes'].includes(v));
const list = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter((p) => p.length > 0));

/** An address or CIDR, e.g. `127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`. */
const cidr = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
}, 'must be an IP address or CIDR such as 10.0.0.0/8');

const origin = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s.replace(/\/$/, '');
  } catch {
    return false;
  }
}, 'must be an origin such as https://chat.example.com');

/** Every setting: its environment variable, its flag, its default and what it means. docs/operations.md lists them. */
export const settings = {
  PORT: { schema: int(0, 65535), default: '3000', help: 'TCP port of HTTP and WebSocket' },
  HOST: { schema: z.string().min(1), default: '0.0.0.0', help: 'address to listen on' },
  DATA_DIR: { schema: z.string().min(1), default: './data', help: 'folder of the SQLite file and the generated secret' },
  DATABASE_URL: {
    schema: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres://'),
    default: undefined,
    secret: true,
    help: 'PostgreSQL URL; unset: SQLite in the data dir',
  },
  REDIS_URL: {
    schema: z.string().regex(/^rediss?:\/\//, 'must start with redis://'),
    default: undefined,
    secret: true,
    help: 'Redis URL shared by the nodes (broker, presence, sign-in limit); needs DATABASE_URL; unset: in-process',
  },
  SESSION_SECRET: {
    schema: z.string().min(32, 'must be at least 32 characters'),
    default: undefined,
    secret: true,
    help: 'key that signs session tokens; unset: generated once and kept in the data dir',
  },
  SESSION_TTL_HOURS: { schema: int(1, 24 * 365), default: '168', help: 'how long a session token is valid' },
  TRUST_PROXY: {
    schema: list.pipe(z.array(cidr)),
    default: '',
    help: 'comma-separated addresses or CIDRs whose X-Forwarded-For / X-Real-IP / X-Forwarded-Proto / X-Forwarded-Host are believed',
  },
  ALLOWED_ORIGINS: {
    schema: list.pipe(z.array(origin)),
    default: undefined,
    help: 'comma-separated origins allowed to open /ws/chat; unset: same origin only',
  },
  GUESTS: { schema: bool, default: 'on', help: 'allow name-only guest sign-in (on/off)' },
  ADMINS: {
    schema: list.pipe(z.array(userNameSchema)),
    default: '',
    help: 'comma-separated names of registered accounts that are admins in every room and may ban users everywhere (a guest never is)',
  },
  TLS_CERT: { schema: z.string().min(1), default: undefined, help: 'PEM certificate file; with TLS_KEY serves HTTPS/WSS' },
  TLS_KEY: { schema: z.string().min(1), default: undefined, help: 'PEM private key file' },
  MAX_PAYLOAD: { schema: int(1024, 16 * 1024 * 1024), default: '65536', help: 'largest WebSocket frame in bytes (close 1009 above)' },
  MAX_TEXT: { schema: int(1, 1_000_000), default: '4000', help: 'longest message text in characters (error too_large above)' },
  RATE_LIMIT: { schema: int(0, 1_000_000), default: '20', help: 'messages per second per connection, bursts of twice that; 0 turns it off' },
  SIGNIN_RATE: {
    schema: int(0, 1_000_000),
    default: '30',
    help: 'sign-ins (register, login, guest) per minute per client address, bursts of the same; 0 turns it off',
  },
  MAX_CONNECTIONS: { schema: int(1, 10_000_000), default: '10000', help: 'open WebSocket connections before upgrades get 503' },
  SLOW_READER_BYTES: { schema: int(1024, 1 << 30), default: '4194304', help: 'bytes buffered for one reader before it is closed with 1013' },
  HEARTBEAT_MS: { schema: int(1000, 3_600_000), default: '30000', help: 'ping interval; a peer that misses its pong is cut off' },
  HISTORY_KEEP: { schema: int(0, 100_000_000), default: '100000', help: 'messages kept per room; older ones are pruned; 0 keeps all' },
  PRESENCE_TTL_MS: {
    schema: int(500, 3_600_000),
    default: '15000',
    help: 'with REDIS_URL: how long after its last refresh a node\'s presence entries expire (a dead node\'s users leave)',
  },
  PRESENCE_REFRESH_MS: {
    schema: int(100, 1_800_000),
    default: '5000',
    help: 'with REDIS_URL: how often a node refreshes its presence entries; at most half PRESENCE_TTL_MS',
  },
  NODE_ID: {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
    default: undefined,
    help: 'name of this node in logs, metrics, /readyz and presence; unset: host name and process id',
  },
  LOG_LEVEL: {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    help: 'pino log level',
  },
  LOG_FORMAT: {
    schema: z.enum(['json', 'pretty']),
    default: undefined,
    help: 'json (one object a line) or pretty (for people); unset: pretty when stdout is a terminal, json otherwise',
  },
} as const;

export type SettingName = keyof typeof settings;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  sessionSecret: string | undefined;
  sessionTtlMs: number;
  /** Addresses whose forwarding headers are believed. */
  trustProxy: BlockList;
  trustProxyList: string[];
  /** undefined: same origin only. */
  allowedOrigins: string[] | undefined;
  guests: boolean;
  /** Names of the registered accounts that are admins. */
  admins: string[];
  tls: { cert: string; key: string } | undefined;
  maxPayload: number;
  maxText: number;
  rateLimit: number;
  signInRate: number;
  maxConnections: number;
  slowReaderBytes: number;
  heartbeatMs: number;
  historyKeep: number;
  presenceTtlMs: number;
  presenceRefreshMs: number;
  nodeId: string;
  logLevel: string;
  /** undefined: pretty on a terminal, json otherwise. */
  logFormat: 'json' | 'pretty' | undefined;
}

export class ConfigError extends Error {}

/** `DATA_DIR` -> `--data-dir` */
export function flagName(setting: string): string {
  return '--' + setting.toLowerCase().replace(/_/g, '-');
}

/**
 * Builds the config from environment variables and flags (flag values win; keys are setting names).
 * Throws ConfigError naming every bad value.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  flags: Partial<Record<SettingName, string>> = {},
): Config {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(settings)) {
    const raw = flags[name as SettingName] ?? (env[name] === '' ? undefined : env[name]) ?? setting.default;
    if (raw === undefined) continue;
    const parsed = checkInput(setting.schema as z.ZodType, raw);
    if (parsed.success) values[name] = parsed.data;
    else {
      const source = flags[name as SettingName] !== undefined ? flagName(name) : name;
      // A key, or a URL with a password in it, is not repeated into a terminal or a log.
      const shown = 'secret' in setting ? `(${[...raw].length} characters, not shown)` : JSON.stringify(raw);
      problems.push(`${source}=${shown}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    }
  }
  if ((values.TLS_CERT === undefined) !== (values.TLS_KEY === undefined)) {
    problems.push('TLS_CERT and TLS_KEY go together: set both or neither');
  }
  if (values.REDIS_URL !== undefined && values.DATABASE_URL === undefined) {
    problems.push('REDIS_URL needs DATABASE_URL: the nodes that share a Redis must share one PostgreSQL database too (each would otherwise keep its own SQLite file)');
  }
  const ttl = values.PRESENCE_TTL_MS as number | undefined;
  const refresh = values.PRESENCE_REFRESH_MS as number | undefined;
  if (ttl !== undefined && refresh !== undefined && refresh * 2 > ttl) {
    problems.push(`PRESENCE_REFRESH_MS (${refresh}) must be at most half of PRESENCE_TTL_MS (${ttl}), so that one late refresh does not drop a live node's users`);
  }
  if (problems.length > 0) throw new ConfigError(`bad configuration:\n  ${problems.join('\n  ')}`);

  const trustProxyList = values.TRUST_PROXY as string[];
  const trustProxy = new BlockList();
  for (const entry of trustProxyList) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) trustProxy.addAddress(addr, type);
    else trustProxy.addSubnet(addr, Number(bits), type);
  }
  return {
    port: values.PORT as number,
    host: values.HOST as string,
    dataDir: values.DATA_DIR as string,
    databaseUrl: values.DATABASE_URL as string | undefined,
    redisUrl: values.REDIS_URL as string | undefined,
    sessionSecret: values.SESSION_SECRET as string | undefined,
    sessionTtlMs: (values.SESSION_TTL_HOURS as number) * 3_600_000,
    trustProxy,
    trustProxyList,
    allowedOrigins: values.ALLOWED_ORIGINS as string[] | undefined,
    guests: values.GUESTS as boolean,
    admins: values.ADMINS as string[],
    tls: values.TLS_CERT ? { cert: values.TLS_CERT as string, key: values.TLS_KEY as string } : undefined,
    maxPayload: values.MAX_PAYLOAD as number,
    maxText: values.MAX_TEXT as number,
    rateLimit: values.RATE_LIMIT as number,
    signInRate: values.SIGNIN_RATE as number,
    maxConnections: values.MAX_CONNECTIONS as number,
    slowReaderBytes: values.SLOW_READER_BYTES as number,
    heartbeatMs: values.HEARTBEAT_MS as number,
    historyKeep: values.HISTORY_KEEP as number,
    presenceTtlMs: values.PRESENCE_TTL_MS as number,
    presenceRefreshMs: values.PRESENCE_REFRESH_MS as number,
    nodeId: (values.NODE_ID as string | undefined) ?? defaultNodeId(),
    logLevel: values.LOG_LEVEL as string,
    logFormat: values.LOG_FORMAT as 'json' | 'pretty' | undefined,
  };
}

/** The host name and the process id: unique among the nodes of a cluster, and readable in a log. */
function defaultNodeId(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 50) || 'node';
  return `${host}-${process.pid}`;
}
