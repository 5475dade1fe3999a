import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { TaskStore } from '../../src/db/store.js';
import { ApiError } from '../../src/domain/errors.js';
import { TaskService } from '../../src/domain/task-service.js';
import { EventBus } from '../../src/events/bus.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { StatementCounter } from '../helpers/statement-counter.js';

// Reads of single tasks by id are coalesced: the reads asked for together go to the database as one statement.
describe('reads by id', () => {
  let db: TestDatabase;
  let counter: StatementCounter;
  let pool: ReturnType<typeof createPool>;
  let store: TaskStore;
  let service: TaskService;
  let original: string[];
  let v1: string[];

  before(async () => {
    db = await createTestDatabase();
    counter = await StatementCounter.start(db.url);
    const log = createLogger('silent');
    pool = createPool({ connectionString: counter.via(db.url), max: 4, applicationName: 'taskd-test' }, log);
    await migrate(pool, log);
    store = new TaskStore(pool);
    service = new TaskService(store, new EventBus(), {
      defaultHandler: 'noop',
      defaultTimeoutMs: 1000,
      maxTaskLength: 100,
    });
    const ids = async (sql: string) => (await db.pool.query<{ id: string }>(sql)).rows.map((r) => r.id);
    original = await ids(
      `INSERT INTO taskd.tasks (id, id_time, handler, input, timeout_ms)
       SELECT id, taskd.task_id_time(id), 'noop', 'original ' || g, 1000
       FROM (SELECT g, taskd.new_task_id() AS id FROM generate_series(1, 20) g) x RETURNING id`,
    );
    v1 = await ids(
      `INSERT INTO taskd.tasks (id, id_time, handler, payload, timeout_ms, priority)
       SELECT id, taskd.task_id_time(id), 'noop', jsonb_build_object('n', g, 'tags', jsonb_build_array('a')), 1000, g
       FROM (SELECT g, taskd.new_task_id() AS id FROM generate_series(1, 20) g) x RETURNING id`,
    );
  });

  after(async () => {
    await pool.end();
    await counter.close();
    await db.drop();
  });

  const missing = '00000000-0000-4000-8000-000000000000';
  const notFound = (err: unknown) => err instanceof ApiError && err.code === 'TASK_NOT_FOUND';

  test('v1 reads asked for together are one statement, each answered with its own task', async () => {
    const asked = [...v1, ...original, v1[0]!, v1[0]!];
    const before = counter.count('taskGetRecords');
    const single = counter.count('taskGetRecord');
    const [records, none] = await Promise.all([
      Promise.all(asked.map((id) => service.getV1(id))),
      service.getV1(missing).then(
        () => 'found',
        (err: unknown) => (notFound(err) ? 'not found' : err),
      ),
    ]);
    assert.equal(counter.count('taskGetRecords') - before, 1);
    assert.equal(counter.count('taskGetRecord'), single, 'no read of its own');
    assert.equal(none, 'not found');
    for (const [i, id] of asked.entries()) assert.deepEqual(records[i], await store.taskGetRecord(id));
    assert.deepEqual(records[0]?.input, { n: 1, tags: ['a'] });
  });

  test('original-API reads asked for together are one statement, v1 tasks read as their JSON text', async () => {
    const asked = [...original, ...v1, original[3]!];
    const before = counter.count('taskGetViews');
    const single = counter.count('taskGet');
    const views = await Promise.all(asked.map((id) => service.get(id)));
    await assert.rejects(service.get(missing), notFound);
    // The unknown id came after the others' statement had gone out: a statement of its own.
    assert.equal(counter.count('taskGetViews') - before, 2);
    assert.equal(counter.count('taskGet'), single, 'no read of its own');
    for (const [i, id] of asked.entries()) assert.deepEqual(views[i], await store.taskGet(id));
    assert.equal(views[0]?.task, 'original 1');
    assert.equal(views[original.length]?.task, '{"n": 1, "tags": ["a"]}');
  });
});
