import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { checkResult, createTask } from '../helpers/api.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('the original API, on a real server process', () => {
  let db: TestDatabase;
  let server: ServerProcess;

  before(async () => {
    db = await createTestDatabase();
    server = await startServer({ DATABASE_URL: db.url, SIMULATE_MIN_MS: '300', SIMULATE_MAX_MS: '400' });
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  test('POST /task/create answers 201 with exactly task_id and status, after the row is committed', async () => {
    const res = await fetch(`${server.url}/task/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'Example Task' }),
    });
    assert.equal(res.status, 201);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['task_id', 'status']);
    assert.equal(body.status, 'success');
    assert.match(String(body.task_id), UUID);
    // Committed before the answer: a separate connection sees it at once.
    const { rows } = await db.pool.query('SELECT input FROM taskd.tasks WHERE id = $1', [body.task_id]);
    assert.deepEqual(rows, [{ input: 'Example Task' }]);
  });

  test('a task goes from "in progress" to "completed", with the exact keys of check-result', async () => {
    const created = await createTask(server.url, 'Example Task');
    const first = await checkResult(server.url, created.body.task_id);
    assert.equal(first.status, 200);
    assert.deepEqual(Object.keys(first.body), [
      'Task',
      'CreatedAt',
      'Task_identification',
      'Result',
      'Status',
    ]);
    assert.equal(first.body.Status, 'in progress');
    assert.equal(first.body.Result, '');
    assert.equal(first.body.Task, 'Example Task');
    assert.equal(first.body.Task_identification, created.body.task_id);

    const done = await waitFor('completion', async () => {
      const r = await checkResult(server.url, created.body.task_id);
      return r.body.Status === 'completed' && r.body;
    });
    assert.match(done.Result, /^processed task "Example Task" in \d+ ms$/);
    assert.equal(done.CreatedAt, first.body.CreatedAt);
  });

  test('CreatedAt is RFC 3339 UTC with the microseconds PostgreSQL stored', async () => {
    const created = await createTask(server.url, 'timestamps');
    const { body } = await checkResult(server.url, created.body.task_id);
    assert.match(body.CreatedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const { rows } = await db.pool.query<{ us: string }>(
      `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS us FROM taskd.tasks WHERE id = $1`,
      [created.body.task_id],
    );
    assert.equal(body.CreatedAt, rows[0]?.us);
    assert.ok(Math.abs(Date.parse(body.CreatedAt) - Date.now()) < 60_000);
  });

  test('unknown task_id → 404 {"error":"Task not found"}', async () => {
    const res = await fetch(`${server.url}/task/check-result?task_id=00000000-0000-4000-8000-000000000000`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: 'Task not found' });
  });

  test('missing or malformed task_id → 400 with a JSON error', async () => {
    for (const qs of [
      '',
      '?task_id=',
      '?task_id=123',
      '?task_id=not-a-uuid',
      '?task_id=a&task_id=b',
      '?x=1',
    ]) {
      const res = await fetch(`${server.url}/task/check-result${qs}`);
      assert.equal(res.status, 400, qs);
      const body = (await res.json()) as { error?: unknown };
      assert.equal(typeof body.error, 'string', qs);
    }
  });

  test('malformed creates → 400 {"error":"Invalid task data"} and nothing is stored', async () => {
    const before = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM taskd.tasks')).rows[0]!
      .n;
    const cases: { body: string; type?: string }[] = [
      { body: 'not json' },
      { body: '{"task": ' },
      { body: '{}' },
      { body: '{"task": ""}' },
      { body: '{"task": 42}' },
      { body: '{"task": null}' },
      { body: '{"task": ["a"]}' },
      { body: '{"task": {"a": 1}}' },
      { body: '[]' },
      { body: '"task"' },
      { body: 'null' },
      { body: '' },
      { body: '{"task": "a\\u0000b"}' },
      { body: '{"task": "\\ud800"}' },
      { body: `{"task": "${'x'.repeat(65_537)}"}` },
      { body: '{"task": "ok"}', type: 'text/plain' },
      { body: 'task=ok', type: 'application/x-www-form-urlencoded' },
    ];
    for (const c of cases) {
      const res = await fetch(`${server.url}/task/create`, {
        method: 'POST',
        headers: { 'content-type': c.type ?? 'application/json' },
        body: c.body,
      });
      assert.equal(res.status, 400, `${c.type ?? 'json'}: ${c.body.slice(0, 40)}`);
      assert.deepEqual(await res.json(), { error: 'Invalid task data' });
    }
    const afterCount = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM taskd.tasks'))
      .rows[0]!.n;
    assert.equal(afterCount, before);
  });

  test('an oversized body → 413 {"error":"Invalid task data"}', async () => {
    const res = await fetch(`${server.url}/task/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task: 'x'.repeat(2_000_000) }),
    });
    assert.equal(res.status, 413);
    assert.deepEqual(await res.json(), { error: 'Invalid task data' });
  });

  test('1,000 concurrent creates all land', async () => {
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => createTask(server.url, `concurrent ${i}`)),
    );
    assert.ok(results.every((r) => r.status === 201));
    const ids = results.map((r) => r.body.task_id);
    assert.equal(new Set(ids).size, 1000);
    const { rows } = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM taskd.tasks WHERE id = ANY($1::uuid[])',
      [ids],
    );
    assert.equal(rows[0]?.n, 1000);
  });

  test('a known path asked with the wrong method answers 405 JSON with Allow', async () => {
    const res = await fetch(`${server.url}/task/create`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
    assert.deepEqual(await res.json(), { error: 'Method not allowed' });
    const put = await fetch(`${server.url}/task/check-result?task_id=x`, { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, HEAD');
  });

  test('answers carry an X-Request-Id and unknown routes answer JSON 404', async () => {
    const res = await fetch(`${server.url}/nope`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('x-request-id') ?? '', UUID);
    assert.deepEqual(await res.json(), { error: 'Not found' });
  });
});
