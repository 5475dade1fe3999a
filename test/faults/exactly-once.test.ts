/**
 * Exactly once under contention: three processes compete for 20,000 short tasks inserted as fast as the
 * database takes them, with no fault injected. Every task must be claimed once, run once and completed once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase, allFinished } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import { Cluster, countBy, isStarted, isStatusChange } from './helpers/cluster.js';
import { report, round, tally } from './helpers/report.js';
import { runAlone } from './helpers/serial.js';

const TASKS = 20_000;
const BATCH = 2000;

describe('fault: exactly once under contention (3 processes, 20,000 tasks)', () => {
  let release: (() => Promise<void>) | undefined;
  let db: TestDatabase;
  let cluster: Cluster;
  const ids: string[] = [];
  let rows: { id: string; state: string; attempt: number; owner: string }[] = [];
  let drainMs = NaN;

  before(async () => {
    release = await runAlone();
    db = await createTestDatabase();
    cluster = new Cluster(
      {
        DATABASE_URL: db.url,
        DEFAULT_HANDLER: 'noop',
        WORKER_CONCURRENCY: '500',
        POLL_INTERVAL_MS: '200',
        DB_POOL_SIZE: '8',
      },
      3,
    );
    await cluster.start();
    // Straight into the table (the schema exists: the processes migrated it), a batch per statement, each
    // followed by the notification the API would send.
    const t0 = performance.now();
    for (let b = 0; b < TASKS / BATCH; b++) {
      const { rows: inserted } = await db.pool.query<{ id: string }>(
        `INSERT INTO taskd.tasks (id, handler, input, timeout_ms)
         SELECT gen_random_uuid(), 'noop', 'exactly once ' || i, 60000 FROM generate_series(1, $1) AS i
         RETURNING id`,
        [BATCH],
      );
      ids.push(...inserted.map((r) => r.id));
      await db.pool.query(`SELECT pg_notify('taskd_task_created', $1)`, [String(BATCH)]);
    }
    await waitFor('every task finished', () => allFinished(db.pool), { timeoutMs: 120_000, intervalMs: 100 });
    drainMs = performance.now() - t0;
    // The log lines of the last completions may trail the database by a moment.
    await waitFor(
      'a completion line for every task',
      () => cluster.logs((l) => isStatusChange(l) && l.status === 'completed').length >= TASKS,
      { timeoutMs: 10_000 },
    ).catch(() => undefined);
    rows = (
      await db.pool.query<(typeof rows)[number]>('SELECT id, state::text, attempt, owner FROM taskd.tasks')
    ).rows;

    const started = cluster.logs(isStarted);
    const perProcess = cluster.processes.map((p) => p.logs.filter(isStarted).length);
    report('exactly-once', {
      instances: cluster.size,
      tasks_inserted: ids.length,
      by_state: tally(rows.map((r) => r.state)),
      by_attempt: tally(rows.map((r) => r.attempt)),
      task_started_lines: started.length,
      tasks_started_more_than_once: [...countBy(started, 'task_id').values()].filter((n) => n > 1).length,
      tasks_per_process: perProcess,
      insert_to_all_finished_ms: round(drainMs),
      throughput_tasks_per_second: round(TASKS / (drainMs / 1000)),
    });
  });

  after(async () => {
    await cluster?.closeAll();
    await db?.drop();
    await release?.();
  });

  test('every task completed, claimed once (attempt 1)', () => {
    assert.equal(rows.length, TASKS);
    assert.deepEqual(tally(rows.map((r) => r.state)), { completed: TASKS });
    assert.deepEqual(tally(rows.map((r) => r.attempt)), { 1: TASKS });
  });

  test('exactly one "task started" line per task across all processes', () => {
    const started = countBy(cluster.logs(isStarted), 'task_id');
    assert.equal(started.size, TASKS);
    const notOnce = [...started].filter(([, n]) => n !== 1);
    assert.deepEqual(notOnce, []);
    const inserted = new Set(ids);
    const unknown = [...started.keys()].filter((id) => !inserted.has(id));
    assert.deepEqual(unknown.slice(0, 5), []);
  });

  test('exactly one completion per task, by the process that claimed it', () => {
    const completions = cluster.logs((l) => isStatusChange(l) && l.status === 'completed');
    const counts = countBy(completions, 'task_id');
    assert.equal(counts.size, TASKS);
    assert.deepEqual(
      [...counts].filter(([, n]) => n !== 1),
      [],
    );
    const owner = new Map(rows.map((r) => [r.id, r.owner]));
    const startedBy = new Map(cluster.logs(isStarted).map((l) => [String(l.task_id), String(l.worker_id)]));
    const mismatched = [...owner].filter(([id, o]) => startedBy.get(id) !== o);
    assert.deepEqual(mismatched.slice(0, 5), []);
  });

  test('the work was shared: every process ran some of it', () => {
    for (const p of cluster.processes)
      assert.ok(p.logs.filter(isStarted).length > 0, `pid ${p.pid} ran nothing`);
  });
});
