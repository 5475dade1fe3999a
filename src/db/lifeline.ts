import pg from 'pg';
import { DbUnavailableError, isTransientDbError } from './errors.js';
import { runWithDeadline, watchConnection } from './pool.js';

/**
 * A connection of its own for liveness traffic (the heartbeat that keeps this process's lease). On the shared
 * pool a heartbeat would queue behind insert flushes and settles, and a half-open pooled socket could hold it for
 * the whole statement deadline: longer than the lease, so others would declare a healthy process dead. Here it
 * waits for nothing, and every statement is bounded by `deadlineMs` (a fraction of the lease); a connection that
 * fails or stops answering is dropped and made anew on the next statement.
 */
export class Lifeline {
  private client: pg.Client | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly deadlineMs: number,
  ) {}

  async query<R extends pg.QueryResultRow>(query: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const client = this.client ?? (await this.connect());
    return runWithDeadline<R>(client, query, { deadlineMs: this.deadlineMs }, (broken) => {
      if (broken && this.client === client) {
        this.client = undefined;
        void client.end().catch(() => {});
      }
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'taskd-lifeline',
      connectionTimeoutMillis: this.deadlineMs,
      statement_timeout: this.deadlineMs,
      keepAlive: true,
    });
    // Also listens for 'error', which unheard would crash the process.
    watchConnection(client);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      if (err instanceof pg.DatabaseError && !isTransientDbError(err)) throw err;
      throw new DbUnavailableError('the lifeline connection could not be made', { cause: err });
    }
    this.client = client;
    return client;
  }
}
