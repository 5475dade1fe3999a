import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { statementText, type StatementName } from '../../src/db/store.js';
import { createLogger } from '../../src/logger.js';
import { aheadMs } from '../../src/maintenance/partitions.js';

/** The service's own schema and statements, so the limits and the plan are measured on exactly what it runs. */

export async function migrateDatabase(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await migrate(pool, createLogger('silent'));
    // The partitions a running taskd keeps ahead (the default plan: a day each, two ahead), as any database that a
    // service has run on has them: tasks queued by SQL before the measured start go to their partitions, not to
    // the default one (which a start would first have to empty).
    const plan = { stepMs: 86_400_000 };
    await pool.query(statementText('taskPartitionsEnsure'), [plan.stepMs, plan.stepMs, aheadMs(plan)]);
  } finally {
    await pool.end();
  }
}

/** A named statement of the store, as it runs it. */
export function storeStatement(name: StatementName): Promise<string> {
  return Promise.resolve(statementText(name));
}

/** `n` rows (g, id) of task ids as taskd makes them (time-ordered, in the partition of now). */
const timeOrderedIds = (n: string) =>
  `(SELECT g, taskd.new_task_id() AS id FROM generate_series(1, ${n}) g) AS ids`;

/**
 * Queues `count` tasks for `handler` with plain SQL, in one statement. Statistics are left to autovacuum, as in
 * production, unless `analyze` is set (then the planner sees every task queued and none running).
 */
export async function fillQueue(
  url: string,
  count: number,
  handler: string,
  timeoutMs: number,
  analyze = false,
): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO taskd.tasks (id, id_time, handler, input, timeout_ms)
       SELECT id, taskd.task_id_time(id), $1, 'bench task ' || g, $2 FROM ${timeOrderedIds('$3')}`,
      [handler, timeoutMs, count],
    );
    if (analyze) await client.query('ANALYZE taskd.tasks');
  } finally {
    await client.end();
  }
}

/**
 * Queues `count` v1 tasks for `kind` with plain SQL, in one statement, with what v1 adds in the rows: a JSON
 * input, priorities from -5 to 5, two queues (`default` and `batch`, one task in four) and three attempts each.
 */
export async function fillQueueV1(
  url: string,
  count: number,
  kind: string,
  timeoutMs: number,
): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO taskd.tasks (id, id_time, handler, payload, timeout_ms, queue, priority, max_attempts, run_at)
       SELECT id, taskd.task_id_time(id), $1,
              jsonb_build_object('n', g, 'text', 'bench task ' || g, 'tags', jsonb_build_array('a', 'b')),
              $2, CASE WHEN g % 4 = 0 THEN 'batch' ELSE 'default' END, (g * 7919) % 11 - 5, 3, now()
       FROM ${timeOrderedIds('$3')}`,
      [kind, timeoutMs, count],
    );
  } finally {
    await client.end();
  }
}

export async function taskCounts(pool: pg.Pool): Promise<Record<string, number>> {
  const rows = (
    await pool.query<{ state: string; n: string }>(
      'SELECT state::text, count(*)::text AS n FROM taskd.tasks GROUP BY state',
    )
  ).rows;
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/**
 * Whether any task is still queued or running: the drains' check for their end, asked every few tens of ms while
 * they run. Each half is the first entry of a partial index in its own order (tasks_claimable,
 * tasks_running_owner_id), which PostgreSQL reads in a few pages however large the table; a count by state would
 * scan the whole table each time, and at 100,000 tasks and 20 checks a second take PostgreSQL half a core from
 * the drain being measured.
 */
export async function unfinished(pool: pg.Pool): Promise<boolean> {
  const rows = (
    await pool.query<{ unfinished: boolean }>(
      `SELECT (SELECT 1 FROM taskd.tasks WHERE state = 'queued' ORDER BY priority DESC, seq LIMIT 1) IS NOT NULL
           OR (SELECT 1 FROM taskd.tasks WHERE state = 'running' ORDER BY owner, id LIMIT 1) IS NOT NULL
           AS unfinished`,
    )
  ).rows;
  return rows[0]?.unfinished !== false;
}

/** Adds `count` tasks that completed an hour ago, in one statement: the history a long-running system keeps. */
export async function insertFinished(client: pg.Client, count: number): Promise<void> {
  await client.query(
    `INSERT INTO taskd.tasks (id, id_time, handler, input, state, result, attempt, owner, started_at, finished_at,
                              timeout_ms)
     SELECT id, taskd.task_id_time(id), 'noop', 'old task ' || g, 'completed', 'ok', 1, gen_random_uuid(),
            now() - interval '1 hour', now() - interval '1 hour', 240000
     FROM ${timeOrderedIds('$1')}`,
    [count],
  );
}
