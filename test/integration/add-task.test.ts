import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let db: TestDatabase;
let server: ServerProcess;
before(async () => {
  db = await createTestDatabase();
  // A poll far longer than the test: a task is found only through the notification delivered at commit.
  server = await startServer({ DATABASE_URL: db.url, POLL_INTERVAL_MS: '60000' });
});
after(async () => {
  await server?.close();
  await db?.drop();
});

const stateOf = async (id: string) =>
  (await db.pool.query<{ state: string }>('SELECT state::text FROM taskd.tasks WHERE id = $1', [id])).rows[0]
    ?.state;

test('taskd.add_task creates a task exactly when the caller’s transaction commits, and wakes the workers then', async () => {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: string }>(
      `SELECT taskd.add_task(kind => 'noop', input => '{"to": "a@b.c"}'::jsonb) AS id`,
    );
    const rolledBack = rows[0]!.id;
    await client.query('ROLLBACK');
    assert.equal(await stateOf(rolledBack), undefined, 'a rolled-back transaction leaves no task');

    await client.query('BEGIN');
    const created = (
      await client.query<{ id: string }>(
        `SELECT taskd.add_task(kind => 'noop', input => '{"n": 1}'::jsonb, priority => 3, max_attempts => 2) AS id`,
      )
    ).rows[0]!.id;
    // Not visible to anyone (nor run) before the commit.
    assert.equal(await stateOf(created), undefined);
    await client.query('COMMIT');
    await waitFor('run after the commit', async () => (await stateOf(created)) === 'completed');
    const task = (await (await fetch(`${server.url}/v1/tasks/${created}`)).json()) as Record<string, unknown>;
    assert.deepEqual([task.kind, task.input, task.priority, task.max_attempts], ['noop', { n: 1 }, 3, 2]);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
});

test('taskd.add_task: a delay schedules, an idempotency key already taken returns its task, bad arguments raise', async () => {
  const later = (
    await db.pool.query<{ id: string }>(`SELECT taskd.add_task(kind => 'noop', delay_ms => 3600000) AS id`)
  ).rows[0]!.id;
  assert.equal(await stateOf(later), 'scheduled');
  const first = (
    await db.pool.query<{ id: string }>(
      `SELECT taskd.add_task(kind => 'noop', idempotency_key => 'sql-1') AS id`,
    )
  ).rows[0]!.id;
  const again = (
    await db.pool.query<{ id: string }>(
      `SELECT taskd.add_task(kind => 'noop', idempotency_key => 'sql-1') AS id`,
    )
  ).rows[0]!.id;
  assert.equal(again, first);
  await assert.rejects(db.pool.query(`SELECT taskd.add_task(kind => '')`), /kind is required/);
  await assert.rejects(
    db.pool.query(`SELECT taskd.add_task(kind => 'noop', run_at => now(), delay_ms => 5)`),
    /not both/,
  );
  await assert.rejects(
    db.pool.query(`SELECT taskd.add_task(kind => 'noop', max_attempts => 0)`),
    /tasks_attempts_bound/,
  );
});
