import type pg from 'pg';
import type { Decision } from '../domain/outcome.js';
import type { ClaimedTask, TaskState, TaskView } from '../domain/task.js';
import type { Lifeline } from './lifeline.js';
import { execute, type ExecuteOptions } from './pool.js';

/**
 * The task store: every SQL statement the service runs, and nothing else. Each statement is named (the name is
 * also the prepared-statement name), parameterised, and works on batches through arrays, so a caller never
 * pays a round trip per task. Nobody outside src/db calls `query`.
 */

/** Channel on which an INSERT of new tasks wakes idle workers (once per batch, not per task). */
export const TASK_CREATED_CHANNEL = 'taskd_task_created';

/**
 * The notification channels a process listens on (src/notify/notifier.ts), and the statements of the listening
 * connection. Channel names are constants of ours, never client input.
 */
export const CHANNELS = {
  taskCreated: TASK_CREATED_CHANNEL,
  /** Each process sends itself a notification now and then, to prove the connection still delivers. */
  selfCheck: 'taskd_notifier_check',
} as const;
export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

export const LISTENER_SQL = {
  listen: (channel: Channel) => `LISTEN ${channel}`,
  selfCheck: `SELECT pg_notify('${CHANNELS.selfCheck}', $1)`,
};

/**
 * How every statement that ends a run writes its decision (domain/outcome.ts): the final state, why it failed,
 * the Result text, and when. One fragment, so that the four ways a run can end (its own outcome, a lost worker,
 * an orphaned claim, shutdown) cannot drift apart. Placeholders only: the values always travel as parameters.
 */
const finishRun = (state: string, failure: string, result: string) =>
  `state = ${state}::taskd.task_state, failure = ${failure}, result = ${result}, finished_at = now()`;

const SQL = {
  // One statement inserts a whole batch and notifies once; it commits as it returns, so a 201 sent after it
  // means the tasks are durable. pg_notify is in a cross-joined CTE so that it runs once per batch.
  taskInsertMany: `
    WITH inserted AS (
      INSERT INTO taskd.tasks (id, handler, input, timeout_ms)
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[])
      RETURNING 1
    )
    SELECT pg_notify('${TASK_CREATED_CHANNEL}', count(*)::text) FROM inserted`,

  ping: `SELECT 1`,

  // How many more connections the server would accept from us: the start-up check of DB_POOL_SIZE.
  serverConnectionCapacity: `
    SELECT current_setting('max_connections')::int
             - current_setting('superuser_reserved_connections')::int AS max_connections,
           (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS in_use`,

  taskGet: `
    SELECT id, input, state, result,
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at
    FROM taskd.tasks WHERE id = $1`,

  // The inner SELECT takes the row locks with SKIP LOCKED, so concurrent claimers pass over each other's rows
  // instead of queueing behind them, and the UPDATE changes only rows this claimer holds. The partial index
  // tasks_runnable serves the SELECT exactly; `= ANY(ARRAY(...))` makes the UPDATE find its rows through the
  // primary key whatever the table's size (a join may choose to scan the whole table). Claims never exceed
  // free slots ($2), and a worker whose lease has run out (or was reaped) claims nothing: its tasks would point
  // at a worker that no reaper looks for.
  taskClaimAvailable: `
    UPDATE taskd.tasks t
    SET state = 'running', owner = $1, attempt = t.attempt + 1, started_at = now()
    WHERE t.id = ANY(ARRAY(
      SELECT id FROM taskd.tasks
      WHERE state = 'queued'
        AND EXISTS (SELECT 1 FROM taskd.workers w WHERE w.id = $1 AND w.expires_at > now())
      ORDER BY seq
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    ))
    RETURNING t.id, t.handler, t.input, t.timeout_ms, t.attempt`,

  // Fenced by (owner, attempt, state = 'running'): a process that lost its lease, or a run that was already
  // failed by shutdown or by another process, changes nothing. Rows not returned were not written.
  // The LATERAL probe makes the batch drive the join, one primary-key lookup per outcome, whatever the
  // statistics say. A plain join let stale statistics ("no task is running") put the tasks side outside and
  // rescan the whole batch once per running task: quadratic, minutes for a burst of 100,000 completions.
  // The UPDATE then finds the locked rows through the primary key (`= ANY(ARRAY(...))`) rather than by
  // hashing the whole table.
  taskSettleMany: `
    WITH target AS MATERIALIZED (
      SELECT r.id, o.state, o.failure, o.result
      FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::text[])
        AS o(id, owner, attempt, state, failure, result)
      CROSS JOIN LATERAL (
        SELECT id FROM taskd.tasks
        WHERE id = o.id AND owner = o.owner AND attempt = o.attempt AND state = 'running'
        FOR UPDATE
      ) r
    )
    UPDATE taskd.tasks t
    SET ${finishRun('target.state', 'target.failure', 'target.result')}
    FROM target
    WHERE t.id = ANY(ARRAY(SELECT id FROM target)) AND t.id = target.id
    RETURNING t.id`,

  workerRegister: `
    INSERT INTO taskd.workers (id, host, pid, expires_at, concurrency)
    VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond', $5)`,

  // One statement per interval renews the lease of every task the process runs (tasks point at their worker),
  // and holds or takes the maintenance leadership: renewed while this worker holds it, taken over once the
  // holder's lease ran out (judged by the database's clock, the one clock all processes share). Two workers
  // racing for an expired row serialise on its lock; the second then sees a live lease and takes nothing.
  workerHeartbeat: `
    WITH renewed AS (
      UPDATE taskd.workers SET expires_at = now() + $2 * interval '1 millisecond'
      WHERE id = $1
      RETURNING id
    ), led AS (
      INSERT INTO taskd.leader AS l (name, worker_id, expires_at)
      SELECT 'maintenance', id, now() + $2 * interval '1 millisecond' FROM renewed
      ON CONFLICT (name) DO UPDATE
        SET worker_id = excluded.worker_id, expires_at = excluded.expires_at,
            elected_at = CASE WHEN l.worker_id = excluded.worker_id THEN l.elected_at ELSE now() END
        WHERE l.worker_id = excluded.worker_id OR l.expires_at < now()
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM renewed)::int AS held, (SELECT count(*) FROM led)::int AS leader`,

  // Deleting the expired worker rows and failing their tasks in one statement makes it atomic: two reapers
  // cannot both act on one worker (the second finds the row gone), and no task is left pointing at a worker
  // that no longer exists. A process never reaps itself: it renews its own lease, or learns it lost it.
  workerReapExpired: `
    WITH expired AS (
      DELETE FROM taskd.workers
      WHERE expires_at < now() AND id <> $1
      RETURNING id
    ), failed AS (
      UPDATE taskd.tasks t
      SET ${finishRun('$2', '$3', '$4')}
      FROM expired
      WHERE t.owner = expired.id AND t.state = 'running'
      RETURNING t.id, t.owner
    )
    SELECT (SELECT array_agg(id) FROM expired) AS workers, (SELECT array_agg(id) FROM failed) AS tasks`,

  // Running tasks whose owner has no worker row: a claim that raced with the reaping of its own worker. The
  // recursive CTE walks the distinct owners of running tasks through tasks_running_owner_id, one index probe
  // per owner (a handful), however many tasks run; only orphaned owners' tasks are then touched.
  taskFailOrphaned: `
    WITH RECURSIVE owners(owner) AS (
      (SELECT owner FROM taskd.tasks WHERE state = 'running' ORDER BY owner LIMIT 1)
      UNION ALL
      SELECT (SELECT t.owner FROM taskd.tasks t
              WHERE t.state = 'running' AND t.owner > owners.owner ORDER BY t.owner LIMIT 1)
      FROM owners WHERE owners.owner IS NOT NULL
    ), orphaned AS (
      SELECT owner FROM owners
      WHERE owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM taskd.workers w WHERE w.id = owners.owner)
    )
    UPDATE taskd.tasks t
    SET ${finishRun('$1', '$2', '$3')}
    FROM orphaned
    WHERE t.owner = orphaned.owner AND t.state = 'running'
    RETURNING t.id`,

  // Graceful exit: fail whatever this process still runs, leave the registry, and hand over the leadership at
  // once (the next heartbeat of another worker takes it), in one statement (a data-modifying CTE always runs to
  // completion, read or not).
  workerDeregister: `
    WITH gone AS (
      DELETE FROM taskd.workers WHERE id = $1
    ), resigned AS (
      DELETE FROM taskd.leader WHERE worker_id = $1
    )
    UPDATE taskd.tasks t
    SET ${finishRun('$2', '$3', '$4')}
    WHERE t.owner = $1 AND t.state = 'running'
    RETURNING t.id`,

  // Retention, in small batches so that it never holds many locks or bloats one transaction. SKIP LOCKED: rows
  // another sweep (a leader that has just been replaced) is deleting are left to it rather than waited for.
  taskDeleteFinishedBefore: `
    DELETE FROM taskd.tasks WHERE id = ANY(ARRAY(
      SELECT id FROM taskd.tasks
      WHERE finished_at < now() - $1 * interval '1 millisecond'
      ORDER BY finished_at
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    ))`,
} as const;

export type StatementName = keyof typeof SQL;

const PLANNED_PER_CALL = new Set<StatementName>(['taskInsertMany', 'taskClaimAvailable', 'taskSettleMany']);

export interface NewTask {
  id: string;
  handler: string;
  input: string;
  timeoutMs: number;
}

/** A decision for one run, fenced by the claim it was made under. */
export interface SettleRow {
  id: string;
  owner: string;
  attempt: number;
  decision: Decision;
}

/** Per-call options: an abort signal (shutdown) and a deadline shorter than the default. */
export type StatementOptions = ExecuteOptions;

export class TaskStore {
  /**
   * @param pool every statement but the heartbeat's
   * @param lifeline the heartbeat's own connection (see Lifeline); without one, the pool serves it too
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly lifeline?: Lifeline,
  ) {}

  private async run<R extends pg.QueryResultRow>(
    name: StatementName,
    values: unknown[],
    options?: StatementOptions,
  ): Promise<pg.QueryResult<R>> {
    // Batch statements are planned for each call, with the real array sizes. A named (prepared) statement
    // switches to a generic plan after a few calls, which guesses 10 rows for every unnest and then picks
    // quadratic nested loops: a 1,000-row settle took a second instead of a few milliseconds.
    const query = PLANNED_PER_CALL.has(name)
      ? { text: SQL[name], values }
      : { name, text: SQL[name], values };
    return execute<R>(this.pool, query, options);
  }

  private async rows<R extends pg.QueryResultRow>(
    name: StatementName,
    values: unknown[],
    options?: StatementOptions,
  ): Promise<R[]> {
    return (await this.run<R>(name, values, options)).rows;
  }

  async ping(): Promise<void> {
    await this.run('ping', [], { deadlineMs: 3000 });
  }

  async serverConnectionCapacity(): Promise<{ maxConnections: number; inUse: number }> {
    const [row] = await this.rows<{ max_connections: number; in_use: number }>(
      'serverConnectionCapacity',
      [],
    );
    return { maxConnections: row?.max_connections ?? 0, inUse: row?.in_use ?? 0 };
  }

  async taskInsertMany(tasks: readonly NewTask[]): Promise<void> {
    await this.run('taskInsertMany', [
      tasks.map((t) => t.id),
      tasks.map((t) => t.handler),
      tasks.map((t) => t.input),
      tasks.map((t) => t.timeoutMs),
    ]);
  }

  async taskGet(id: string): Promise<TaskView | undefined> {
    const [row] = await this.rows<{
      id: string;
      input: string;
      state: TaskState;
      result: string;
      created_at: string;
    }>('taskGet', [id]);
    return (
      row && { id: row.id, task: row.input, state: row.state, result: row.result, createdAt: row.created_at }
    );
  }

  async taskClaimAvailable(owner: string, limit: number, options?: StatementOptions): Promise<ClaimedTask[]> {
    const rows = await this.rows<{
      id: string;
      handler: string;
      input: string;
      timeout_ms: number;
      attempt: number;
    }>('taskClaimAvailable', [owner, limit], options);
    return rows.map((r) => ({
      id: r.id,
      handler: r.handler,
      input: r.input,
      timeoutMs: r.timeout_ms,
      attempt: r.attempt,
    }));
  }

  /** Returns the ids whose decision was written; the others had been fenced off. */
  async taskSettleMany(rows: readonly SettleRow[], options?: StatementOptions): Promise<Set<string>> {
    const written = await this.rows<{ id: string }>(
      'taskSettleMany',
      [
        rows.map((r) => r.id),
        rows.map((r) => r.owner),
        rows.map((r) => r.attempt),
        rows.map((r) => r.decision.state),
        rows.map((r) => (r.decision.state === 'failed' ? r.decision.failure : null)),
        rows.map((r) => r.decision.result),
      ],
      options,
    );
    return new Set(written.map((r) => r.id));
  }

  async workerRegister(
    id: string,
    host: string,
    pid: number,
    leaseMs: number,
    concurrency: number,
  ): Promise<void> {
    const values = [id, host, pid, leaseMs, concurrency];
    if (this.lifeline)
      await this.lifeline.query({ name: 'workerRegister', text: SQL.workerRegister, values });
    else await this.run('workerRegister', values);
  }

  /**
   * Renews this worker's lease and its claim on the maintenance leadership. `held` is false when the worker row
   * is gone: another process declared this one dead.
   */
  async workerHeartbeat(id: string, leaseMs: number): Promise<{ held: boolean; leader: boolean }> {
    const query = { name: 'workerHeartbeat', text: SQL.workerHeartbeat, values: [id, leaseMs] };
    const result = this.lifeline
      ? await this.lifeline.query<{ held: number; leader: number }>(query)
      : await this.run<{ held: number; leader: number }>('workerHeartbeat', query.values);
    const row = result.rows[0];
    return { held: row?.held === 1, leader: row?.leader === 1 };
  }

  async workerReapExpired(
    selfId: string,
    decision: Decision,
    options?: StatementOptions,
  ): Promise<{ workers: string[]; tasks: string[] }> {
    const [row] = await this.rows<{ workers: string[] | null; tasks: string[] | null }>(
      'workerReapExpired',
      [selfId, ...decisionValues(decision)],
      options,
    );
    return { workers: row?.workers ?? [], tasks: row?.tasks ?? [] };
  }

  async taskFailOrphaned(decision: Decision, options?: StatementOptions): Promise<string[]> {
    return (await this.rows<{ id: string }>('taskFailOrphaned', decisionValues(decision), options)).map(
      (r) => r.id,
    );
  }

  async workerDeregister(id: string, decision: Decision, options?: StatementOptions): Promise<string[]> {
    return (
      await this.rows<{ id: string }>('workerDeregister', [id, ...decisionValues(decision)], options)
    ).map((r) => r.id);
  }

  async taskDeleteFinishedBefore(ageMs: number, limit: number, options?: StatementOptions): Promise<number> {
    return (await this.run('taskDeleteFinishedBefore', [ageMs, limit], options)).rowCount ?? 0;
  }
}

function decisionValues(d: Decision): [string, string | null, string] {
  return [d.state, d.state === 'failed' ? d.failure : null, d.result];
}
