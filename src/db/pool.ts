import pg from 'pg';
import type { Logger } from '../logger.js';

export interface PoolOptions {
  connectionString: string;
  max: number;
  applicationName: string;
}

/**
 * The one connection pool of a process. Timeouts are short on purpose: when PostgreSQL goes away a request must
 * fail fast with 503 instead of hanging, and the engine's loops retry on their own.
 */
export function createPool(options: PoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    application_name: options.applicationName,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    // The server cancels a statement that runs too long (a client-side timeout alone would leave it running and
    // holding its row locks); the client-side bound catches a half-open connection that never answers.
    statement_timeout: 30_000,
    query_timeout: 35_000,
    keepAlive: true,
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener it would crash the
  // process. The pool drops that client and opens a new one on the next checkout.
  pool.on('error', (err) => log.warn({ err: describeDbError(err) }, 'idle database connection lost'));
  return pool;
}

/**
 * Errors after which the same statement may succeed if tried again: the connection or the server went away,
 * or the server is starting/shutting down, or too busy. A table of SQLSTATEs and socket codes, never message
 * text.
 */
const TRANSIENT_SQLSTATES = new Set([
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '08007',
  '08P01', // connection exceptions
  '57P01',
  '57P02',
  '57P03', // admin/crash shutdown, cannot connect now
  '53300', // too many connections
  '40001',
  '40P01', // serialization failure, deadlock
  '55P03', // lock not available
]);
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ECONNABORTED',
]);

export function isTransientDbError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SOCKET_CODES.has(code)))
    return true;
  // node-postgres reports a timed-out checkout or query, and a connection that ended, without a code.
  return /timeout|Connection terminated|not queryable|Client has encountered a connection error/i.test(
    err.message,
  );
}

/** What a log line needs to know about a database error (never sent to clients). */
export function describeDbError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { code?: string; detail?: string };
  return { message: e.message, code: e.code, detail: e.detail };
}
