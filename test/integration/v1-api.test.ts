import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

interface Task {
  id: string;
  kind: string;
  state: string;
  input: unknown;
  result: unknown;
  error: { type: string; message: string } | null;
  attempt: number;
  max_attempts: number;
  queue: string;
  priority: number;
  [k: string]: unknown;
}

describe('v1 tasks over HTTP, on a real server process', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let base: string;

  before(async () => {
    db = await createTestDatabase();
    server = await startServer({ DATABASE_URL: db.url, SIMULATE_MIN_MS: '0', SIMULATE_MAX_MS: '0' });
    base = server.url;
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }
  const task = async (id: string) => (await call('GET', `/v1/tasks/${id}`)).body as unknown as Task;

  test('create answers 201 with the task and its Location; it runs; its JSON input and result round-trip', async () => {
    const input = { text: 'Ünïcødé ✓', list: [1, 2.5, null, true], nested: { deep: ['x'] } };
    const res = await call('POST', '/v1/tasks', {
      kind: 'noop',
      input,
      priority: 7,
      queue: 'q1',
      max_attempts: 2,
    });
    assert.equal(res.status, 201);
    const created = res.body as unknown as Task;
    assert.equal(res.headers.get('location'), `/v1/tasks/${created.id}`);
    assert.deepEqual(Object.keys(created), [
      'id',
      'kind',
      'queue',
      'state',
      'input',
      'result',
      'error',
      'priority',
      'attempt',
      'max_attempts',
      'timeout_ms',
      'progress',
      'idempotency_key',
      'callback_url',
      'created_at',
      'run_at',
      'started_at',
      'finished_at',
    ]);
    assert.deepEqual(created.input, input);
    assert.equal(created.priority, 7);
    assert.equal(created.queue, 'q1');
    await waitFor('completed', async () => (await task(created.id)).state === 'completed');
    const done = await task(created.id);
    assert.equal(done.result, 'ok');
    assert.equal(done.attempt, 1);
    assert.match(String(done.finished_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // The original API reads any task: Task is the input's JSON text, Result the result.
    const seed = await fetch(`${base}/task/check-result?task_id=${created.id}`);
    const view = (await seed.json()) as Record<string, string>;
    assert.equal(view.Status, 'completed');
    assert.equal(view.Result, 'ok');
    assert.deepEqual(JSON.parse(view.Task!), input);
  });

  test('bad creates answer 400 with a code and change nothing', async () => {
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM taskd.tasks')).rows[0] as {
      n: number;
    };
    const cases: [unknown, string][] = [
      [{ kind: 'no-such-kind' }, 'unknown_kind'],
      [{ kind: 'noop', bogus: 1 }, 'invalid_request'],
      [{ kind: 'noop', priority: 1.5 }, 'invalid_request'],
      [{ kind: 'noop', run_at: 'tomorrow' }, 'invalid_request'],
      [{ kind: 'noop', run_at: '2030-01-01T00:00:00Z', delay_ms: 5 }, 'invalid_request'],
      [{ kind: 'noop', input: 'nul \u0000 inside' }, 'invalid_request'],
      [{ kind: 'noop', max_attempts: 0 }, 'invalid_request'],
      [{}, 'invalid_request'],
      [[1, 2], 'invalid_request'],
    ];
    for (const [body, code] of cases) {
      const res = await call('POST', '/v1/tasks', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, code, JSON.stringify(body));
      assert.equal(typeof res.body.error, 'string');
    }
    const afterwards = (await db.pool.query('SELECT count(*)::int AS n FROM taskd.tasks')).rows[0] as {
      n: number;
    };
    assert.equal(afterwards.n, before.n);
    assert.equal(
      (await call('GET', '/v1/tasks/00000000-0000-4000-8000-000000000000')).body.code,
      'task_not_found',
    );
    assert.equal((await call('GET', '/v1/tasks/nope')).body.code, 'invalid_request');
  });

  test('batch create is all or nothing, and answers in request order', async () => {
    const ok = await call('POST', '/v1/tasks/batch', {
      tasks: [
        { kind: 'noop', input: 1 },
        { kind: 'noop', input: 2 },
        { kind: 'noop', input: 3 },
      ],
    });
    assert.equal(ok.status, 201);
    assert.deepEqual(
      (ok.body.tasks as Task[]).map((t) => t.input),
      [1, 2, 3],
    );
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM taskd.tasks')).rows[0] as {
      n: number;
    };
    const bad = await call('POST', '/v1/tasks/batch', { tasks: [{ kind: 'noop' }, { kind: 'missing' }] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'unknown_kind');
    const afterwards = (await db.pool.query('SELECT count(*)::int AS n FROM taskd.tasks')).rows[0] as {
      n: number;
    };
    assert.equal(afterwards.n, before.n);
  });

  test('list is newest first, filtered, and pages with a cursor without gaps or repeats', async () => {
    const made: string[] = [];
    for (let i = 0; i < 7; i++) {
      made.push(
        (
          (await call('POST', '/v1/tasks', { kind: 'noop', queue: 'paging', input: i }))
            .body as unknown as Task
        ).id,
      );
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/v1/tasks?queue=paging&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await call('GET', query);
      assert.equal(page.status, 200);
      seen.push(...(page.body.tasks as Task[]).map((t) => t.id));
      cursor = page.body.next_cursor as string | null;
    } while (cursor);
    assert.deepEqual(seen, [...made].reverse());
    await waitFor('all done', async () => {
      const page = await call('GET', '/v1/tasks?queue=paging&state=completed&limit=500');
      return (page.body.tasks as Task[]).length === 7;
    });
    const none = await call('GET', '/v1/tasks?queue=paging&state=queued&state=running');
    assert.deepEqual(none.body.tasks, []);
    assert.equal((await call('GET', '/v1/tasks?cursor=garbage')).body.code, 'invalid_request');
    assert.equal((await call('GET', '/v1/tasks?limit=501')).body.code, 'invalid_request');
    // Numbers too large for a double become Infinity when the query string is coerced: still out of range.
    for (const query of [
      '/v1/tasks?limit=1e309',
      '/v1/tasks?limit=Infinity',
      `/v1/tasks/${made[0]}?wait=-1e999`,
    ]) {
      const refused = await call('GET', query);
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.code, 'invalid_request', query);
    }
    assert.equal((await call('POST', '/v1/tasks?wait=1e309', { kind: 'noop' })).status, 400);
    // A text parameter may still say Infinity.
    assert.equal((await call('GET', '/v1/tasks?kind=Infinity')).status, 200);
  });

  test('cancel ends a waiting task at once; a finished one answers 409; retry queues it again', async () => {
    const later = (await call('POST', '/v1/tasks', { kind: 'noop', delay_ms: 3_600_000 }))
      .body as unknown as Task;
    assert.equal(later.state, 'scheduled');
    const cancelled = await call('POST', `/v1/tasks/${later.id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    assert.deepEqual(cancelled.body.error, { type: 'cancelled', message: 'cancelled' });
    const again = await call('POST', `/v1/tasks/${later.id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'task_finished');
    const retried = await call('POST', `/v1/tasks/${later.id}/retry`);
    assert.equal(retried.status, 200);
    assert.equal(retried.body.state, 'queued');
    await waitFor('ran after the retry', async () => (await task(later.id)).state === 'completed');
    const notRetryable = await call('POST', `/v1/tasks/${later.id}/retry`);
    assert.equal(notRetryable.status, 409);
    assert.equal(notRetryable.body.code, 'task_not_retryable');
    const attempts = await call('GET', `/v1/tasks/${later.id}/attempts`);
    assert.deepEqual(
      (attempts.body.attempts as { outcome: string }[]).map((a) => a.outcome),
      ['completed'],
    );
  });

  test('queues: counts by state, pause and resume, a limit, and 404 for a queue nobody named', async () => {
    await call('PATCH', '/v1/queues/held', { paused: true });
    const held = (await call('POST', '/v1/tasks', { kind: 'noop', queue: 'held' })).body as unknown as Task;
    const queue = await call('GET', '/v1/queues/held');
    assert.equal(queue.status, 200);
    assert.equal(queue.body.paused, true);
    assert.deepEqual(queue.body.counts, { queued: 1 });
    assert.equal(typeof queue.body.oldest_queued_age_ms, 'number');
    const resumed = await call('PATCH', '/v1/queues/held', { paused: false, concurrency: 2 });
    assert.deepEqual([resumed.body.paused, resumed.body.concurrency], [false, 2]);
    await waitFor('ran once resumed', async () => (await task(held.id)).state === 'completed');
    // A limit of 0 holds the queue's tasks back; it is not "no limit" (null).
    const zero = await call('PATCH', '/v1/queues/held', { concurrency: 0 });
    assert.deepEqual([zero.status, zero.body.concurrency], [200, 0]);
    const unlimited = await call('PATCH', '/v1/queues/held', { concurrency: null });
    assert.equal(unlimited.body.concurrency, null);
    assert.equal((await call('PATCH', '/v1/queues/held', { concurrency: -1 })).body.code, 'invalid_request');
    assert.equal((await call('PATCH', '/v1/queues/held', { concurrency: 1.5 })).body.code, 'invalid_request');
    const list = await call('GET', '/v1/queues');
    assert.ok((list.body.queues as { name: string }[]).some((q) => q.name === 'held'));
    assert.equal((await call('GET', '/v1/queues/never-named')).body.code, 'queue_not_found');
    assert.equal((await call('PATCH', '/v1/queues/held', { paused: 'yes' })).body.code, 'invalid_request');
  });

  test('kinds lists the built-in kinds', async () => {
    const res = await call('GET', '/v1/kinds');
    const names = (res.body.kinds as { name: string; source: string }[]).map((k) => `${k.name}:${k.source}`);
    assert.ok(names.includes('simulate:builtin') && names.includes('noop:builtin'), names.join(','));
  });

  test('idempotency: a replay answers 200 with the original; another body 422; 20 concurrent duplicates make one task', async () => {
    const first = await call(
      'POST',
      '/v1/tasks',
      { kind: 'noop', input: 'once' },
      { 'idempotency-key': 'k-1' },
    );
    assert.equal(first.status, 201);
    const replay = await call(
      'POST',
      '/v1/tasks',
      { kind: 'noop', input: 'once' },
      { 'idempotency-key': 'k-1' },
    );
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(replay.body.id, first.body.id);
    const other = await call(
      'POST',
      '/v1/tasks',
      { kind: 'noop', input: 'different' },
      { 'idempotency-key': 'k-1' },
    );
    assert.equal(other.status, 422);
    assert.equal(other.body.code, 'idempotency_key_reused');

    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        call('POST', '/v1/tasks', { kind: 'noop', input: 'dup', idempotency_key: 'k-2' }),
      ),
    );
    const ids = new Set(answers.map((a) => a.body.id));
    assert.equal(ids.size, 1, 'one task');
    assert.deepEqual(
      answers.map((a) => a.status).sort((a, b) => a - b),
      [...Array<number>(19).fill(200), 201],
    );
    const { rows } = await db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM taskd.tasks WHERE idempotency_key = 'k-2'",
    );
    assert.equal(rows[0]?.n, 1);
  });

  test('errors of v1 carry a code; those of the original API stay exactly as they were', async () => {
    const v1 = await call('GET', '/v1/unknown-path');
    assert.deepEqual(v1.body, { error: 'Not found', code: 'not_found' });
    const original = await fetch(`${base}/task/check-result?task_id=00000000-0000-4000-8000-000000000000`);
    assert.deepEqual(await original.json(), { error: 'Task not found' });
    const bad = await fetch(`${base}/task/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"task": 1}',
    });
    assert.deepEqual(await bad.json(), { error: 'Invalid task data' });
  });
});
