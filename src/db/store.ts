import type pg from 'pg';
import type { ClaimedTask, FailureKind, Outcome, TaskState, TaskView } from '../domain/task.js';

/**
 * The task store: every SQL statement the service runs, and nothing else. Each statement is named (the name is
 * also the prepared-statement name), parameterised, and works on batches through arrays, so a caller never
 * pays a round trip per task. Nobody outside src/db calls `query`.
 */

/** Channel on which an INSERT of new tasks wakes idle workers (once per batch, not per task). */
export const TASK_CREATED_CHANNEL = 'taskd_task_created';

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
    SET state = target.state::taskd.task_state, failure = target.failure, result = target.result,
        finished_at = now()
    FROM target
    WHERE t.id = ANY(ARRAY(SELECT id FROM target)) AND t.id = target.id
    RETURNING t.id`,

  workerRegister: `
    INSERT INTO taskd.workers (id, host, pid, expires_at)
    VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')`,

  // One statement per interval renews the lease of every task the process runs: tasks point at their worker.
  workerHeartbeat: `
    UPDATE taskd.workers SET expires_at = now() + $2 * interval '1 millisecond'
    WHERE id = $1
    RETURNING id`,

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
      SET state = 'failed', failure = 'worker_lost', result = $2, finished_at = now()
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
    SET state = 'failed', failure = 'worker_lost', result = $1, finished_at = now()
    FROM orphaned
    WHERE t.owner = orphaned.owner AND t.state = 'running'
    RETURNING t.id`,

  // Graceful exit: fail whatever this process still runs, and leave the registry, in one statement (a
  // data-modifying CTE always runs to completion, read or not).
  workerDeregister: `
    WITH gone AS (
      DELETE FROM taskd.workers WHERE id = $1
    )
    UPDATE taskd.tasks t
    SET state = 'failed', failure = $2, result = $3, finished_at = now()
    WHERE t.owner = $1 AND t.state = 'running'
    RETURNING t.id`,

  // Retention, in small batches so that it never holds many locks or bloats one transaction.
  taskDeleteFinishedBefore: `
    DELETE FROM taskd.tasks WHERE id IN (
      SELECT id FROM taskd.tasks
      WHERE finished_at < now() - $1 * interval '1 millisecond'
      ORDER BY finished_at
      LIMIT $2
    )`,
} as const;

export type StatementName = keyof typeof SQL;

const PLANNED_PER_CALL = new Set<StatementName>(['taskInsertMany', 'taskClaimAvailable', 'taskSettleMany']);

export interface NewTask {
  id: string;
  handler: string;
  input: string;
  timeoutMs: number;
}

export interface SettleRow {
  id: string;
  owner: string;
  attempt: number;
  outcome: Outcome;
}

/** PostgreSQL text cannot hold NUL, and UTF-8 cannot hold a lone surrogate: make any handler output storable. */
export function storableText(s: string): string {
  return s.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

export class TaskStore {
  constructor(private readonly pool: pg.Pool) {}

  private async run<R extends pg.QueryResultRow>(name: StatementName, values: unknown[]): Promise<R[]> {
    // Batch statements are planned for each call, with the real array sizes. A named (prepared) statement
    // switches to a generic plan after a few calls, which guesses 10 rows for every unnest and then picks
    // quadratic nested loops: a 1,000-row settle took a second instead of a few milliseconds.
    const query = PLANNED_PER_CALL.has(name)
      ? { text: SQL[name], values }
      : { name, text: SQL[name], values };
    const result = await this.pool.query<R>(query);
    return result.rows;
  }

  async ping(): Promise<void> {
    await this.run('ping', []);
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
    const rows = await this.run<{
      id: string;
      input: string;
      state: TaskState;
      result: string;
      created_at: string;
    }>('taskGet', [id]);
    const row = rows[0];
    return (
      row && { id: row.id, task: row.input, state: row.state, result: row.result, createdAt: row.created_at }
    );
  }

  async taskClaimAvailable(owner: string, limit: number): Promise<ClaimedTask[]> {
    const rows = await this.run<{
      id: string;
      handler: string;
      input: string;
      timeout_ms: number;
      attempt: number;
    }>('taskClaimAvailable', [owner, limit]);
    return rows.map((r) => ({
      id: r.id,
      handler: r.handler,
      input: r.input,
      timeoutMs: r.timeout_ms,
      attempt: r.attempt,
    }));
  }

  /** Returns the ids whose outcome was written; the others had been fenced off. */
  async taskSettleMany(rows: readonly SettleRow[]): Promise<Set<string>> {
    const written = await this.run<{ id: string }>('taskSettleMany', [
      rows.map((r) => r.id),
      rows.map((r) => r.owner),
      rows.map((r) => r.attempt),
      rows.map((r) => (r.outcome.kind === 'completed' ? 'completed' : 'failed')),
      rows.map((r) => (r.outcome.kind === 'failed' ? r.outcome.failure : null)),
      rows.map((r) => storableText(r.outcome.result)),
    ]);
    return new Set(written.map((r) => r.id));
  }

  async workerRegister(id: string, host: string, pid: number, leaseMs: number): Promise<void> {
    await this.run('workerRegister', [id, host, pid, leaseMs]);
  }

  /** False when the worker row is gone: another process declared this one dead. */
  async workerHeartbeat(id: string, leaseMs: number): Promise<boolean> {
    return (await this.run('workerHeartbeat', [id, leaseMs])).length === 1;
  }

  async workerReapExpired(selfId: string, result: string): Promise<{ workers: string[]; tasks: string[] }> {
    const rows = await this.run<{ workers: string[] | null; tasks: string[] | null }>('workerReapExpired', [
      selfId,
      result,
    ]);
    return { workers: rows[0]?.workers ?? [], tasks: rows[0]?.tasks ?? [] };
  }

  async taskFailOrphaned(result: string): Promise<string[]> {
    return (await this.run<{ id: string }>('taskFailOrphaned', [result])).map((r) => r.id);
  }

  async workerDeregister(id: string, failure: FailureKind, result: string): Promise<string[]> {
    return (await this.run<{ id: string }>('workerDeregister', [id, failure, result])).map((r) => r.id);
  }

  async taskDeleteFinishedBefore(ageMs: number, limit: number): Promise<number> {
    const result = await this.pool.query({
      name: 'taskDeleteFinishedBefore',
      text: SQL.taskDeleteFinishedBefore,
      values: [ageMs, limit],
    });
    return result.rowCount ?? 0;
  }
}
