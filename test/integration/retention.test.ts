import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { TaskStore } from '../../src/db/store.js';
import { Retention } from '../../src/engine/retention.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, taskStates, type TestDatabase } from '../helpers/db.js';

const log = createLogger('silent');
let db: TestDatabase | undefined;
after(async () => db?.drop());

test('retention deletes finished tasks past the age, in batches, and nothing else', async () => {
  db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 2, applicationName: 'taskd-test' }, log);
  try {
    await migrate(pool, log);
    // 2,500 old finished tasks (more than one batch), 10 recent ones, 5 queued and 5 running of any age.
    await pool.query(`
      INSERT INTO taskd.tasks (id, handler, input, timeout_ms, state, result, failure, attempt, owner,
                               created_at, started_at, finished_at)
      SELECT gen_random_uuid(), 'noop', 'x', 1000,
             CASE WHEN i % 2 = 0 THEN 'completed' ELSE 'failed' END::taskd.task_state, 'ok',
             CASE WHEN i % 2 = 0 THEN NULL ELSE 'error' END, 1, gen_random_uuid(),
             now() - interval '9 days', now() - interval '9 days', now() - interval '8 days'
      FROM generate_series(1, 2500) i`);
    await pool.query(`
      INSERT INTO taskd.tasks (id, handler, input, timeout_ms, state, result, attempt, owner, started_at, finished_at)
      SELECT gen_random_uuid(), 'noop', 'x', 1000, 'completed', 'ok', 1, gen_random_uuid(),
             now() - interval '1 day', now() - interval '1 day'
      FROM generate_series(1, 10)`);
    await pool.query(`
      INSERT INTO taskd.tasks (id, handler, input, timeout_ms, created_at)
      SELECT gen_random_uuid(), 'noop', 'x', 1000, now() - interval '30 days' FROM generate_series(1, 5)`);
    await pool.query(`
      INSERT INTO taskd.tasks (id, handler, input, timeout_ms, state, attempt, owner, created_at, started_at)
      SELECT gen_random_uuid(), 'noop', 'x', 1000, 'running', 1, gen_random_uuid(),
             now() - interval '30 days', now() - interval '30 days' FROM generate_series(1, 5)`);

    const retention = new Retention(new TaskStore(pool), 7 * 86_400_000, log);
    assert.equal(await retention.sweep(), 2500);
    assert.deepEqual(await taskStates(pool), { completed: 10, queued: 5, running: 5 });
    assert.equal(await retention.sweep(), 0);
  } finally {
    await pool.end();
  }
});
