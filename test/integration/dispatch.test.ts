import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { StatementCounter } from '../helpers/statement-counter.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Direct dispatch: a create taken by a process whose engine is idle with free slots starts running in the
 * insert's own transaction (started_at = created_at, one now()), with no claim; everything that must wait for a
 * claim of its own still does: paused and limited queues, scheduled tasks, external kinds, and tasks that come
 * while the engine is full. Each server first runs one task to its end, so that its claimer has made the claims of
 * its start (a create that comes before the first has come back is queued). A claim in flight holds slots of its
 * own, up to all the free ones: with one slot, polls come only once a minute, so that none holds it meanwhile.
 */

interface Row {
  state: string;
  attempt: number;
  owner: string | null;
  same_instant: boolean;
}

async function post(base: string, path: string, body: unknown, method = 'POST') {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * A server with `env` on a database of its own, made before the tests and gone after. Its rows are read through
 * the test database's pool (which ignores the errors of connections the drop ends); with `counted`, the server
 * reaches the database through a StatementCounter.
 */
function serverWith(env: Record<string, string>, { counted = false } = {}) {
  const live = {} as { db: TestDatabase; server: ServerProcess; counter: StatementCounter | undefined };
  before(async () => {
    live.db = await createTestDatabase();
    live.counter = counted ? await StatementCounter.start(live.db.url) : undefined;
    live.server = await startServer({ DATABASE_URL: live.counter?.via(live.db.url) ?? live.db.url, ...env });
  });
  after(async () => {
    await live.server?.close();
    await live.counter?.close();
    await live.db?.drop();
  });
  return live;
}

describe('tasks start as they are created when the engine is idle', () => {
  const live = serverWith({ EXTERNAL_KINDS: 'outside', SIMULATE_MIN_MS: '0', SIMULATE_MAX_MS: '0' });

  const row = async (id: string): Promise<Row> => {
    const { rows } = await live.db.pool.query<Row>(
      `SELECT state::text AS state, attempt, owner::text AS owner, started_at = created_at AS same_instant
       FROM taskd.tasks WHERE id = $1`,
      [id],
    );
    return rows[0]!;
  };
  const completed = (id: string) =>
    waitFor(`task ${id} completed`, async () => ((await row(id)).state === 'completed' ? true : undefined));

  before(async () => {
    await completed((await post(live.server.url, '/v1/tasks', { kind: 'noop' })).body.id as string);
  });

  test('a v1 create answers running, started in the transaction that created it, and completes', async () => {
    const res = await post(live.server.url, '/v1/tasks', { kind: 'noop', input: { n: 1 } });
    assert.equal(res.status, 201);
    assert.equal(res.body.state, 'running');
    assert.equal(res.body.attempt, 1);
    assert.equal(res.body.started_at, res.body.created_at);
    const id = res.body.id as string;
    await completed(id);
    const r = await row(id);
    assert.equal(r.same_instant, true);
    assert.equal(r.attempt, 1);
    const { rows } = await live.db.pool.query<{ n: number }>(
      `SELECT jsonb_array_length(history) AS n FROM taskd.tasks WHERE id = $1`,
      [id],
    );
    assert.equal(rows[0]!.n, 1);
  });

  test('an original API create starts as it is created too', async () => {
    const res = await post(live.server.url, '/task/create', { task: 'hello' });
    assert.equal(res.status, 201);
    const id = res.body.task_id as string;
    await completed(id);
    assert.equal((await row(id)).same_instant, true);
  });

  test('paused and limited queues, scheduled tasks and external kinds are created queued, for claims of their own', async () => {
    assert.equal((await post(live.server.url, '/v1/queues/held', { paused: true }, 'PATCH')).status, 200);
    assert.equal((await post(live.server.url, '/v1/queues/narrow', { concurrency: 1 }, 'PATCH')).status, 200);
    const held = await post(live.server.url, '/v1/tasks', { kind: 'noop', queue: 'held' });
    const narrow = await post(live.server.url, '/v1/tasks', { kind: 'noop', queue: 'narrow' });
    const later = await post(live.server.url, '/v1/tasks', { kind: 'noop', delay_ms: 300 });
    const outside = await post(live.server.url, '/v1/tasks', { kind: 'outside' });
    assert.equal(held.body.state, 'queued');
    assert.equal(narrow.body.state, 'queued');
    assert.equal(later.body.state, 'scheduled');
    assert.equal(outside.body.state, 'queued');
    // The limited queue's and the scheduled task run through the claims, under the limit and in their time.
    await completed(narrow.body.id as string);
    await completed(later.body.id as string);
    for (const id of [narrow.body.id, later.body.id] as string[])
      assert.equal((await row(id)).same_instant, false);
    assert.equal((await row(held.body.id as string)).state, 'queued');
    assert.equal((await row(outside.body.id as string)).state, 'queued');
  });
});

describe('a full engine leaves new tasks queued', () => {
  const live = serverWith({
    WORKER_CONCURRENCY: '1',
    POLL_INTERVAL_MS: '60000',
    SIMULATE_MIN_MS: '1500',
    SIMULATE_MAX_MS: '1500',
  });

  const state = async (id: unknown) =>
    (
      await live.db.pool.query<{ state: string; same_instant: boolean | null }>(
        `SELECT state::text AS state, started_at = created_at AS same_instant FROM taskd.tasks WHERE id = $1`,
        [id],
      )
    ).rows[0]!;

  before(async () => {
    const warm = await post(live.server.url, '/task/create', { task: 'warm-up' });
    await waitFor('the warm-up task completed', async () =>
      (await state(warm.body.task_id)).state === 'completed' ? true : undefined,
    );
  });

  test('the second create waits queued for the slot, and is claimed when the first ends', async () => {
    const first = await post(live.server.url, '/task/create', { task: 'first' });
    const second = await post(live.server.url, '/task/create', { task: 'second' });
    assert.deepEqual(await state(first.body.task_id), { state: 'running', same_instant: true });
    assert.deepEqual(await state(second.body.task_id), { state: 'queued', same_instant: null });
    await waitFor('the second task completed', async () =>
      (await state(second.body.task_id)).state === 'completed' ? true : undefined,
    );
    assert.equal((await state(second.body.task_id)).same_instant, false);
  });
});

describe('creates that started at once wake no waiting claim', () => {
  // Polls once a minute: within the test, only notifications make the waiting claim look again.
  const live = serverWith({ EXTERNAL_KINDS: 'outside', POLL_INTERVAL_MS: '60000' }, { counted: true });

  const state = async (id: unknown) =>
    (
      await live.db.pool.query<{ state: string }>(
        `SELECT state::text AS state FROM taskd.tasks WHERE id = $1`,
        [id],
      )
    ).rows[0]?.state;
  const completed = (id: unknown) =>
    waitFor(`task ${String(id)} completed`, async () =>
      (await state(id)) === 'completed' ? true : undefined,
    );

  test("an external worker's waiting claim looks again for tasks left queued, not for tasks already running", async () => {
    await completed((await post(live.server.url, '/v1/tasks', { kind: 'noop' })).body.id);
    const looks = () => live.counter!.count('taskLeaseAvailable');
    const before = looks();
    const waiting = post(live.server.url, '/v1/workers/claim', { kinds: ['outside'], wait_ms: 20_000 });
    await waitFor('the claim had its first look', () => (looks() > before ? true : undefined));
    for (let i = 0; i < 5; i++) {
      const res = await post(live.server.url, '/v1/tasks', { kind: 'noop', input: { i } });
      assert.equal(res.body.state, 'running');
      await completed(res.body.id);
    }
    // Each of those creates sent its notification (nothing left queued): none made the claim look again.
    const created = await post(live.server.url, '/v1/tasks', { kind: 'outside' });
    assert.equal(created.body.state, 'queued');
    const { body } = await waiting;
    assert.deepEqual(
      (body.tasks as { id: string }[]).map((t) => t.id),
      [created.body.id],
    );
    assert.equal(looks() - before, 2, 'the first look, and the one the queued task woke');
  });
});
