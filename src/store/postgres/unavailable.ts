/**
 * Which errors of node-postgres mean "the database cannot be reached now" (StoreUnavailableError):
 * the call changed nothing, or its transaction's outcome is unknown, and the same call may succeed
 * once the database is back. Anything else (a constraint, a bug in a query) is a real error.
 */

/** SQLSTATEs of a server that is there but cannot do the work now. */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is stopping (or the session was terminated)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, or in recovery
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '25006', // read_only_sql_transaction: a standby that is not promoted yet
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);
/** SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many connections, disk full). */
const UNAVAILABLE_CLASSES = new Set(['08', '53']);

/** Socket errors of a server that is down or out of reach. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ENOENT', // a unix socket that is not there while the server is down
]);

/**
 * node-postgres reports a lost connection and its own timeouts as plain Errors with these
 * messages and no code.
 */
const PG_MESSAGES = [
  /^Connection terminated/, // "… unexpectedly", "… due to connection timeout"
  /^timeout exceeded when trying to connect$/, // the pool's connectionTimeoutMillis
  /^Query read timeout$/, // query_timeout
  /is not queryable$/, // a client that lost its connection
];

export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_CLASSES.has(code.slice(0, 2));
  }
  return PG_MESSAGES.some((re) => re.test(err.message));
}
