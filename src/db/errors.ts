import pg from 'pg';

/**
 * How database failures are told apart: by SQLSTATE for errors the server sent, by the socket's error code for
 * network failures, and by our own error class for what the driver reports without a code (a checkout that timed
 * out, a connection that ended mid-statement, a statement that outlived our deadline). Never by message text: a
 * bug whose message happens to say "timeout" must stay a bug (500), not pass for an outage (503).
 */

/** The database could not be reached, or stopped answering: the same statement may succeed later. */
export class DbUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DbUnavailableError';
  }
}

/** A statement given up because its caller stopped waiting (shutdown). Nothing is known about its effect. */
export class DbAbortedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('database statement aborted', options);
    this.name = 'DbAbortedError';
  }
}

/**
 * SQLSTATEs after which the same statement may succeed if tried again: the connection or the server went away,
 * the server is starting or shutting down, too busy, a statement was cancelled for running too long, or the
 * transaction lost a race.
 */
const TRANSIENT_SQLSTATES = new Set([
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '08007', // transaction_resolution_unknown
  '08P01', // protocol_violation
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57014', // query_canceled (statement_timeout)
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
]);

/** Socket error codes of a connection that failed or broke. */
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);

export function isTransientDbError(err: unknown): boolean {
  if (err instanceof DbUnavailableError) return true;
  if (err instanceof pg.DatabaseError) return err.code !== undefined && TRANSIENT_SQLSTATES.has(err.code);
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && TRANSIENT_SOCKET_CODES.has(code)) return true;
  // An error of ours that wraps a database error (a failed migration, say) is as transient as what it wraps.
  return err.cause instanceof Error && err.cause !== err && isTransientDbError(err.cause);
}

/** True for the server's "too many connections" (a pool larger than the server allows). */
export function isTooManyConnections(err: unknown): boolean {
  const cause = err instanceof DbUnavailableError ? err.cause : err;
  return cause instanceof pg.DatabaseError && cause.code === '53300';
}

/** What a log line needs to know about a database error (never sent to clients). */
export function describeDbError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { code?: string; detail?: string };
  const cause = err.cause instanceof Error ? describeDbError(err.cause) : undefined;
  return { type: e.name, message: e.message, code: e.code, detail: e.detail, ...(cause && { cause }) };
}

/** lock_not_available: a statement's lock_timeout ran out. */
export function isLockTimeout(err: unknown): boolean {
  return err instanceof pg.DatabaseError && err.code === '55P03';
}

/** The server's unique_violation: an idempotency key already taken, say. */
export function isUniqueViolation(err: unknown): boolean {
  return err instanceof pg.DatabaseError && err.code === '23505';
}
