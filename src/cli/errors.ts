/** CLI errors: each becomes one line on stderr and a non-zero exit, never a stack trace. */

/** A wrong flag, a missing argument or a bad URL: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure at run time (refused connection, sign-in refused): exit 1. */
export class CliError extends Error {
  override name = 'CliError';
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  CERT_HAS_EXPIRED: 'the TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the TLS certificate is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the TLS certificate cannot be verified',
};

/** A short human description of an error, looking through fetch's `cause` for the network code. */
export function describeError(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES[code]) return NETWORK_CODES[code]!;
    const inner = (e as { cause?: unknown }).cause;
    if (!inner) break;
    e = inner;
  }
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  // fetch only says "fetch failed"; the reason (e.g. "bad port") is in its cause.
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (err instanceof Error && err.message === 'fetch failed' && cause) return describeError(cause);
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
