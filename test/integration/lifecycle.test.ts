import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { checkResult, createTask } from '../helpers/api.js';
import { createTestDatabase, taskStates, type TestDatabase } from '../helpers/db.js';
import { SHUTDOWN_STEPS, startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanup.push(() => db.drop());
  return db;
}

async function server(env: Record<string, string>): Promise<ServerProcess> {
  const s = await startServer(env);
  cleanup.push(() => s.close());
  return s;
}

async function rowsOf(db: TestDatabase, ids: string[]) {
  const { rows } = await db.pool.query<{
    id: string;
    state: string;
    failure: string | null;
    result: string;
    attempt: number;
    owner: string | null;
    started_ms: number | null;
  }>(
    `SELECT id, state::text, failure, result, attempt, owner,
            (extract(epoch FROM started_at) * 1000)::float8 AS started_ms
     FROM taskd.tasks WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return rows;
}

describe('task lifecycle in real server processes', () => {
  test('a task that outlives TASK_TIMEOUT_MS is failed with a Result saying it timed out', async () => {
    const db = await database();
    const s = await server({
      DATABASE_URL: db.url,
      TASK_TIMEOUT_MS: '300',
      SIMULATE_MIN_MS: '5000',
      SIMULATE_MAX_MS: '5000',
    });
    const { body } = await createTask(s.url, 'slow');
    const done = await waitFor('the timeout', async () => {
      const r = await checkResult(s.url, body.task_id);
      return r.body.Status !== 'in progress' && r.body;
    });
    assert.equal(done.Status, 'failed');
    assert.equal(done.Result, 'task timed out after 300 ms');
    await s.waitForEvent('task.finished', (l) => l.reason === 'timeout' && l.task_id === body.task_id);
  });

  test('graceful shutdown: tasks that finish within the grace period complete, the rest fail; exit 0', async () => {
    const db = await database();
    const grace = 1500;
    const s = await server({
      DATABASE_URL: db.url,
      SHUTDOWN_GRACE_MS: String(grace),
      SIMULATE_MIN_MS: '0',
      SIMULATE_MAX_MS: '4000',
    });
    const ids = (await Promise.all(Array.from({ length: 40 }, (_, i) => createTask(s.url, `t${i}`)))).map(
      (c) => c.body.task_id,
    );
    await waitFor('all tasks running or done', async () => (await taskStates(db.pool)).queued === undefined);
    s.kill('SIGTERM');
    const exit = await s.exited;
    assert.deepEqual(exit, { code: 0, signal: null });

    const rows = await rowsOf(db, ids);
    assert.equal(rows.length, 40);
    const completed = rows.filter((r) => r.state === 'completed');
    const failed = rows.filter((r) => r.state === 'failed');
    assert.equal(completed.length + failed.length, 40, 'nothing is left queued or running');
    for (const r of failed) {
      assert.equal(r.failure, 'shutdown');
      assert.equal(r.result, 'failed: the server shut down before the task finished');
    }
    // The grace period starts once claiming stopped. A completed task's handler ended within it: it started
    // (no earlier than its claim) and ran for the time its Result states, and that end lies before the grace
    // period's end (50 ms for timer and clock granularity).
    const stoppedAt = s.logs.find((l) => l.event === 'engine.stopped_claiming')?.time as number;
    for (const r of completed) {
      const ms = Number(/in (\d+) ms$/.exec(r.result)?.[1]);
      const endedAt = r.started_ms! + ms;
      assert.ok(
        endedAt <= stoppedAt + grace + 50,
        `a task that ended ${Math.round(endedAt - stoppedAt)} ms after claiming stopped completed (grace ${grace} ms)`,
      );
    }
    // With durations spread over 0..4000 ms and 1500 ms of grace, both outcomes occur.
    assert.ok(
      completed.length > 0 && failed.length > 0,
      `${completed.length} completed, ${failed.length} failed`,
    );

    const msgs = s.logs.map((l) => l.msg);
    for (const step of SHUTDOWN_STEPS) {
      assert.ok(msgs.includes(step), `log has "${step}"`);
    }
    const { rows: conns } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'taskd%'",
    );
    assert.equal(conns[0]?.n, 0, 'the service closed its database connections');
  });

  test('while draining, creates get 503 JSON and /readyz says not ready', async () => {
    const db = await database();
    const s = await server({
      DATABASE_URL: db.url,
      SHUTDOWN_GRACE_MS: '3000',
      SIMULATE_MIN_MS: '2500',
      SIMULATE_MAX_MS: '2500',
    });
    await createTask(s.url, 'keeps the process draining');
    await waitFor('task running', async () => (await taskStates(db.pool)).running === 1);
    s.kill('SIGTERM');
    await s.waitForEvent('engine.stopped_claiming');
    const res = await fetch(`${s.url}/task/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'too late' }),
    });
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { error: 'Service is shutting down' });
    const ready = await fetch(`${s.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal((await s.exited).code, 0);
    assert.deepEqual(await taskStates(db.pool), { completed: 1 });
  });

  test('a second signal cuts the grace period short: running tasks are failed at once, nothing stays in progress', async () => {
    const db = await database();
    const s = await server({
      DATABASE_URL: db.url,
      SHUTDOWN_GRACE_MS: '60000',
      SIMULATE_MIN_MS: '60000',
      SIMULATE_MAX_MS: '60000',
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => createTask(s.url, `t${i}`)));
    await waitFor('all running', async () => (await taskStates(db.pool)).running === 10);
    s.kill('SIGTERM');
    await s.waitForEvent('engine.stopped_claiming');
    const t0 = Date.now();
    s.kill('SIGTERM');
    const exit = await s.exited;
    assert.ok(Date.now() - t0 < 5000, 'the forced exit is fast');
    assert.equal(exit.code, 1);
    assert.deepEqual(await taskStates(db.pool), { failed: 10 });
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM taskd.tasks WHERE failure = 'shutdown'",
    );
    assert.equal(rows[0]?.n, 10);
  });

  test('kill -9, then restart: the dead process’s tasks are failed "worker lost" within LEASE_MS', async () => {
    const db = await database();
    const env = {
      DATABASE_URL: db.url,
      LEASE_MS: '1500',
      SIMULATE_MIN_MS: '60000',
      SIMULATE_MAX_MS: '60000',
    };
    const a = await server(env);
    const ids = (await Promise.all(Array.from({ length: 20 }, (_, i) => createTask(a.url, `t${i}`)))).map(
      (c) => c.body.task_id,
    );
    await waitFor('all running', async () => (await taskStates(db.pool)).running === 20);
    a.kill('SIGKILL');
    await a.exited;
    const b = await server(env);
    const restartedAt = Date.now();
    await waitFor('no task in progress', async () => (await taskStates(db.pool)).running === undefined, {
      timeoutMs: 1500 + 2000,
    });
    const elapsed = Date.now() - restartedAt;
    const rows = await rowsOf(db, ids);
    assert.ok(rows.every((r) => r.state === 'failed' && r.failure === 'worker_lost'));
    const { body } = await checkResult(b.url, ids[0]!);
    assert.equal(body.Status, 'failed');
    assert.match(body.Result, /worker lost/);
    await b.waitForEvent('worker.reaped');
    assert.ok(elapsed <= 3500, `recovered in ${elapsed} ms`);
  });

  test('two instances on one database share the work and run each task exactly once', async () => {
    const db = await database();
    const env = {
      DATABASE_URL: db.url,
      SIMULATE_MIN_MS: '20',
      SIMULATE_MAX_MS: '60',
      WORKER_CONCURRENCY: '20',
    };
    const a = await server(env);
    const b = await server(env);
    const created = await Promise.all(
      Array.from({ length: 400 }, (_, i) => createTask(i % 2 ? a.url : b.url, `shared ${i}`)),
    );
    const ids = created.map((c) => c.body.task_id);
    await waitFor('all completed', async () => (await taskStates(db.pool)).completed === 400, {
      timeoutMs: 30_000,
    });
    // Log lines are written asynchronously: stop both processes, which flushes them, before counting.
    a.kill('SIGTERM');
    b.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
    const starts = [...a.logs, ...b.logs]
      .filter((l) => l.msg === 'task started')
      .map((l) => String(l.task_id));
    assert.equal(starts.length, 400, 'one start per task across both processes');
    assert.deepEqual(new Set(starts), new Set(ids));
    const byA = a.logs.filter((l) => l.msg === 'task started').length;
    const byB = b.logs.filter((l) => l.msg === 'task started').length;
    assert.ok(byA > 0 && byB > 0, `both instances worked (${byA} / ${byB})`);
    const rows = await rowsOf(db, ids);
    assert.ok(rows.every((r) => r.attempt === 1));
  });

  test('WORKER_CONCURRENCY=0 serves the API and claims nothing', async () => {
    const db = await database();
    const api = await server({ DATABASE_URL: db.url, WORKER_CONCURRENCY: '0' });
    const { body } = await createTask(api.url, 'waits for a worker');
    // Registered (it may lead maintenance), but as a process that runs nothing.
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM taskd.workers WHERE concurrency > 0',
    );
    assert.equal(rows[0]?.n, 0);
    assert.equal((await checkResult(api.url, body.task_id)).body.Status, 'in progress');
    assert.deepEqual(await taskStates(db.pool), { queued: 1 });
    // A worker started later picks it up (woken by its first poll or the notification).
    await server({ DATABASE_URL: db.url });
    await waitFor(
      'completion',
      async () => (await checkResult(api.url, body.task_id)).body.Status === 'completed',
    );
  });
});
