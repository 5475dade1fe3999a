import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { TaskStore } from '../../src/db/store.js';
import { TaskService } from '../../src/domain/task-service.js';
import { EventBus } from '../../src/events/bus.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase } from '../helpers/db.js';

test('an internal error answers 500 JSON with a request id, logs it with context, and leaks nothing', async () => {
  const db = await createTestDatabase();
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('info', sink);
  const pool = createPool({ connectionString: db.url, max: 2, applicationName: 'taskd-test' }, log);
  try {
    await migrate(pool, log);
    const store = new TaskStore(pool);
    const service = new TaskService(store, new EventBus(), {
      defaultHandler: 'simulate',
      defaultTimeoutMs: 1000,
      maxTaskLength: 100,
    });
    const app = await buildServer({ service, log, bodyLimitBytes: 1 << 20 });
    // A query against a dropped table fails with an error that is neither the client's fault nor transient.
    // (CASCADE: the webhook outbox's foreign key depends on the table.)
    await pool.query('DROP TABLE taskd.tasks CASCADE');
    const res = await app.inject({
      method: 'GET',
      url: '/task/check-result?task_id=00000000-0000-4000-8000-000000000000',
    });
    assert.equal(res.statusCode, 500);
    const body = res.json<{ error: string; request_id: string }>();
    assert.deepEqual(Object.keys(body), ['error', 'request_id']);
    assert.equal(body.error, 'Internal error');
    assert.equal(res.headers['x-request-id'], body.request_id);
    assert.doesNotMatch(res.body, /taskd\.tasks|relation|SELECT|stack|at /i);
    const logged = lines.find((l) => l.msg === 'internal error');
    assert.ok(logged, 'the error is logged');
    assert.equal(logged.request_id, body.request_id);
    assert.equal((logged.err as { message?: string }).message, 'relation "taskd.tasks" does not exist');
    await app.close();
  } finally {
    await pool.end();
    await db.drop();
  }
});

test('a bug whose message says "timeout" or "Connection terminated" is a 500, not a database outage', async () => {
  const db = await createTestDatabase();
  const log = createLogger('silent');
  const pool = createPool({ connectionString: db.url, max: 2, applicationName: 'taskd-test' }, log);
  try {
    await migrate(pool, log);
    // A service whose read fails the way a bug would, with words that a message-matching classifier took for an
    // outage. Only SQLSTATEs, socket codes and the store's own error classes may mean "database unavailable".
    class BuggyService extends TaskService {
      override get(): never {
        throw new Error('Connection terminated: timeout while formatting the answer');
      }
    }
    const service = new BuggyService(new TaskStore(pool), new EventBus(), {
      defaultHandler: 'simulate',
      defaultTimeoutMs: 1000,
      maxTaskLength: 100,
    });
    const app = await buildServer({ service, log, bodyLimitBytes: 1 << 20 });
    const res = await app.inject({
      method: 'GET',
      url: '/task/check-result?task_id=00000000-0000-4000-8000-000000000000',
    });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json<{ error: string }>().error, 'Internal error');
    await app.close();
  } finally {
    await pool.end();
    await db.drop();
  }
});
