import pg from 'pg';
import type { Logger } from '../logger.js';
import { DbAbortedError, DbUnavailableError, describeDbError, isTransientDbError } from './errors.js';

export interface PoolOptions {
  connectionString: string;
  max: number;
  applicationName: string;
}

/** Server-side bound of every statement: the server cancels it (and releases its locks) after this long. */
export const STATEMENT_TIMEOUT_MS = 30_000;
/** Client-side bound: a statement whose answer has not arrived by then is given up and its connection dropped. */
export const DEFAULT_QUERY_DEADLINE_MS = STATEMENT_TIMEOUT_MS + 5_000;

/** Connections that reported an error or ended: their failed statements mean "database unavailable". */
const brokenClients = new WeakSet<pg.ClientBase>();

/** Marks the connection broken once it reports an error or ends. */
export function watchConnection(client: pg.ClientBase): void {
  // `on`, not `once`: an unheard second 'error' event would crash the process.
  client.on('error', () => brokenClients.add(client));
  client.on('end', () => brokenClients.add(client));
}

/**
 * The connection pool of a process. Timeouts are short on purpose: when PostgreSQL goes away a request must fail
 * fast with 503 instead of hanging, and the engine's loops retry on their own. The client-side deadline of each
 * statement is ours (`execute`), not the driver's `query_timeout`, which leaves a connection that stopped
 * answering in the pool.
 */
export function createPool(options: PoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    application_name: options.applicationName,
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    keepAlive: true,
  });
  pool.on('connect', watchConnection);
  // An idle client whose server went away emits 'error' on the pool; without a listener it would crash the
  // process. The pool drops that client and opens a new one on the next checkout.
  pool.on('error', (err) => log.warn({ err: describeDbError(err) }, 'idle database connection lost'));
  return pool;
}

export interface ExecuteOptions {
  /** Give up (and drop the connection) when no answer came within this long. */
  deadlineMs?: number;
  /** Give up when this aborts (shutdown): the statement's connection is dropped, so the server stops it. */
  signal?: AbortSignal | undefined;
}

/** Drops a connection at once, whatever state it is in (a half-open socket would never answer `end`). */
function destroy(client: pg.ClientBase): void {
  brokenClients.add(client);
  // The same private handle pg-pool uses to drop a connection that timed out while connecting.
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/**
 * Runs one statement on `client` within a deadline and an abort signal. Errors come out classified: the server's
 * own errors as they are (pg.DatabaseError, with SQLSTATE), a broken or silent connection as DbUnavailableError,
 * an abort as DbAbortedError. `onDone(broken)` is called exactly once when the client may be reused or must go.
 */
export function runWithDeadline<R extends pg.QueryResultRow>(
  client: pg.ClientBase,
  query: pg.QueryConfig,
  options: ExecuteOptions,
  onDone: (broken: Error | undefined) => void,
): Promise<pg.QueryResult<R>> {
  const { deadlineMs = DEFAULT_QUERY_DEADLINE_MS, signal } = options;
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (broken: Error | undefined) => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      onDone(broken);
    };
    const giveUp = (err: Error) => {
      if (settled) return;
      destroy(client);
      settle(err);
      reject(err);
    };
    const onAbort = () => giveUp(new DbAbortedError());
    const timer = setTimeout(
      () => giveUp(new DbUnavailableError(`the database did not answer within ${deadlineMs} ms`)),
      deadlineMs,
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) return onAbort();
    client.query<R>(query).then(
      (result) => {
        if (settled) return;
        settle(undefined);
        resolve(result);
      },
      (err: unknown) => {
        if (settled) return;
        const error = err instanceof Error ? err : new Error(String(err));
        if (brokenClients.has(client) && !(err instanceof pg.DatabaseError)) {
          // pg reports a connection that ended mid-statement with a plain Error: it is an outage, not a bug.
          const unavailable = new DbUnavailableError('the database connection broke', { cause: err });
          settle(unavailable);
          reject(unavailable);
          return;
        }
        settle(brokenClients.has(client) ? error : undefined);
        reject(error);
      },
    );
  });
}

/** Runs one statement on a pooled connection (see runWithDeadline for the errors it throws). */
export async function execute<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  query: pg.QueryConfig,
  options: ExecuteOptions = {},
): Promise<pg.QueryResult<R>> {
  if (options.signal?.aborted) throw new DbAbortedError();
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    // A server that refused us for good (wrong database, bad credentials) is a configuration problem, not an outage.
    if (err instanceof pg.DatabaseError && !isTransientDbError(err)) throw err;
    throw new DbUnavailableError('no database connection could be had', { cause: err });
  }
  return runWithDeadline<R>(client, query, options, (broken) => client.release(broken));
}
