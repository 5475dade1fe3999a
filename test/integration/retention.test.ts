import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { TaskStore, type StatementOptions } from '../../src/db/store.js';
import { EventBus } from '../../src/events/bus.js';
import { createLogger } from '../../src/logger.js';
import { RETENTION_BATCH, sweepRetention } from '../../src/maintenance/retention.js';
import { createTestDatabase, taskStates, type TestDatabase } from '../helpers/db.js';

const log = createLogger('silent');
const WEEK_MS = 7 * 86_400_000;

/** The real store, recording how many rows each retention statement deleted. */
class RecordingStore extends TaskStore {
  readonly deletes: number[] = [];
  onDelete: (() => void) | undefined;
  override async taskDeleteFinished(
    partition: string,
    ageMs: number,
    limit: number,
    options?: StatementOptions,
  ) {
    const n = await super.taskDeleteFinished(partition, ageMs, limit, options);
    this.deletes.push(n);
    this.onDelete?.();
    return n;
  }
}

describe('retention', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4, applicationName: 'taskd-test' }, log);
    await migrate(pool, log);
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  async function insertOldFinished(n: number) {
    await pool.query(
      `INSERT INTO taskd.tasks (id, handler, input, timeout_ms, state, result, failure, attempt, owner,
                                created_at, started_at, finished_at)
       SELECT gen_random_uuid(), 'noop', 'x', 1000,
              CASE WHEN i % 2 = 0 THEN 'completed' ELSE 'failed' END::taskd.task_state, 'ok',
              CASE WHEN i % 2 = 0 THEN NULL ELSE 'error' END, 1, gen_random_uuid(),
              now() - interval '9 days', now() - interval '9 days', now() - interval '8 days'
       FROM generate_series(1, $1) i`,
      [n],
    );
  }

  beforeEach(async () => {
    await pool.query('DELETE FROM taskd.tasks');
  });

  test('deletes finished tasks past the age, in batches of RETENTION_BATCH, and nothing else', async () => {
    // 2,500 old finished tasks (more than two batches), 10 recent ones, 5 queued and 5 running of any age.
    await insertOldFinished(2500);
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

    const store = new RecordingStore(pool);
    const bus = new EventBus();
    const reported: number[] = [];
    bus.on('retention.deleted', (e) => reported.push(e.deleted));
    assert.deepEqual(await sweepRetention(store, WEEK_MS, bus, new AbortController().signal), {
      dropped: [],
      deleted: 2500,
    });
    // The old tasks' partition, then the default one (empty).
    assert.deepEqual(store.deletes, [RETENTION_BATCH, RETENTION_BATCH, 500, 0]);
    assert.deepEqual(reported, [2500]);
    assert.deepEqual(await taskStates(pool), { completed: 10, queued: 5, running: 5 });
    assert.equal((await sweepRetention(store, WEEK_MS, bus, new AbortController().signal)).deleted, 0);
  });

  test('stops between batches when its signal aborts', async () => {
    await insertOldFinished(2500);
    const store = new RecordingStore(pool);
    const stop = new AbortController();
    store.onDelete = () => stop.abort();
    assert.equal(
      (await sweepRetention(store, WEEK_MS, new EventBus(), stop.signal)).deleted,
      RETENTION_BATCH,
    );
    assert.deepEqual(store.deletes, [RETENTION_BATCH]);
    assert.equal((await taskStates(pool)).completed! + (await taskStates(pool)).failed!, 1500);
  });

  test('skips rows another sweep holds instead of waiting for them', async () => {
    await insertOldFinished(20);
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      const { rows } = await holder.query<{ id: string }>(
        'SELECT id FROM taskd.tasks ORDER BY finished_at LIMIT 5 FOR UPDATE',
      );
      // Without SKIP LOCKED this would wait for the holder's transaction, which only ends after it.
      const deleted = await sweepRetention(
        new TaskStore(pool),
        WEEK_MS,
        new EventBus(),
        new AbortController().signal,
      );
      assert.equal(deleted.deleted, 15);
      const left = await pool.query<{ id: string }>('SELECT id FROM taskd.tasks ORDER BY id');
      assert.deepEqual(
        left.rows.map((r) => r.id),
        rows.map((r) => r.id).sort(),
      );
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });
});
