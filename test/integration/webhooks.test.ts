/**
 * Completion webhooks end to end, with real server processes and a real local receiver that verifies every
 * delivery with the official Standard Webhooks library: the body, the three event types, retries with the same
 * webhook-id, giving up, the deliveries endpoint, the address guard at delivery, and crash safety (kill -9 before
 * and during a delivery: it still happens after a restart).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { Receiver, type Received } from '../helpers/receiver.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

interface Task {
  id: string;
  state: string;
  [k: string]: unknown;
}
interface Delivery {
  webhook_id: string;
  type: string;
  attempt: number;
  status: string;
  response_status: number | null;
  error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
  attempts: { attempt: number; response_status: number | null; error: string | null }[];
}

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const FAST = {
  HTTP_ALLOW_HOSTS: '127.0.0.1',
  WEBHOOK_SECRET: SECRET,
  WEBHOOK_BACKOFF_BASE_MS: '50',
  WEBHOOK_BACKOFF_MAX_MS: '200',
  WEBHOOK_MAX_ATTEMPTS: '3',
};

const databases: TestDatabase[] = [];
const servers: ServerProcess[] = [];
const receiver = new Receiver();
let server: ServerProcess;

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  databases.push(db);
  return db;
}
async function start(env: Record<string, string>): Promise<ServerProcess> {
  const s = await startServer(env);
  servers.push(s);
  return s;
}

before(async () => {
  await receiver.start();
  server = await start({ DATABASE_URL: (await database()).url, ...FAST });
});
after(async () => {
  for (const s of servers) await s.close();
  await receiver.close();
  for (const db of databases) await db.drop();
});

async function create(s: ServerProcess, body: object): Promise<Task> {
  const res = await fetch(`${s.url}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201);
  return (await res.json()) as Task;
}
async function deliveries(s: ServerProcess, id: string): Promise<Delivery[]> {
  const res = await fetch(`${s.url}/v1/tasks/${id}/deliveries`);
  assert.equal(res.status, 200);
  return ((await res.json()) as { deliveries: Delivery[] }).deliveries;
}
/** Verifies a delivery as a receiver would, with the official library; returns the parsed body. */
function verified(r: Received): { type: string; timestamp: string; data: Task } {
  const headers = Object.fromEntries(
    ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(r.headers[h])]),
  );
  return new Webhook(SECRET).verify(r.body, headers) as { type: string; timestamp: string; data: Task };
}

test('a completed task is delivered signed, its data the task exactly as GET /v1/tasks/{id} shows it', async () => {
  const task = await create(server, {
    kind: 'noop',
    input: { n: 1 },
    callback_url: receiver.url('/done'),
  });
  const [req] = await receiver.waitFor('/done', 1);
  assert.ok(req);
  assert.equal(req.method, 'POST');
  assert.equal(req.headers['content-type'], 'application/json');
  const body = verified(req);
  assert.equal(body.type, 'task.completed');
  assert.match(body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  // Byte for byte, key order included: the data is the v1 task as its own endpoint answers.
  const shown = await (await fetch(`${server.url}/v1/tasks/${task.id}`)).text();
  assert.equal(JSON.stringify(body.data), shown);
  assert.equal(body.data.state, 'completed');

  await waitFor(
    'delivery recorded',
    async () => (await deliveries(server, task.id))[0]?.status === 'delivered',
  );
  const [d] = await deliveries(server, task.id);
  assert.equal(d?.webhook_id, req.headers['webhook-id']);
  assert.equal(d?.type, 'task.completed');
  assert.equal(d?.attempt, 1);
  assert.equal(d?.response_status, 200);
  assert.equal(d?.error, null);
  assert.equal(d?.next_attempt_at, null);
  assert.ok(d?.delivered_at);
  assert.deepEqual(
    d?.attempts.map((a) => [a.attempt, a.response_status, a.error]),
    [[1, 200, null]],
  );
});

test('a burst of completions: every one delivered once, verified, and recorded as one delivered attempt', async () => {
  const n = 200;
  const tasks = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      create(server, { kind: 'noop', input: { i }, callback_url: receiver.url('/burst') }),
    ),
  );
  const received = await receiver.waitFor('/burst', n);
  const bodies = received.map(verified);
  assert.deepEqual(new Set(bodies.map((b) => b.data.id)), new Set(tasks.map((t) => t.id)));
  assert.equal(new Set(received.map((r) => r.headers['webhook-id'])).size, n, 'one webhook-id each');
  for (const t of tasks) {
    await waitFor(
      'delivery recorded',
      async () => (await deliveries(server, t.id))[0]?.status === 'delivered',
    );
    const [d] = await deliveries(server, t.id);
    assert.equal(d?.attempt, 1);
    assert.deepEqual(
      d?.attempts.map((a) => [a.attempt, a.response_status]),
      [[1, 200]],
    );
  }
});

test('a slot is free once its answer is in: the next delivery goes out while the last one is still being recorded', async () => {
  // One slot. The first delivery's answer is held until its row is locked by the test, so that its record (an
  // UPDATE of that row) waits on the lock; the second delivery must go out meanwhile.
  const db = await database();
  const one = await start({ DATABASE_URL: db.url, ...FAST, WEBHOOK_CONCURRENCY: '1' });
  receiver.reply('/slot', 'hold');
  const first = await create(one, { kind: 'noop', input: {}, callback_url: receiver.url('/slot') });
  await receiver.waitFor('/slot', 1);
  const lock = new pg.Client({ connectionString: db.url });
  await lock.connect();
  try {
    await lock.query('BEGIN');
    const locked = await lock.query('SELECT 1 FROM taskd.webhook_deliveries WHERE task_id = $1 FOR UPDATE', [
      first.id,
    ]);
    assert.equal(locked.rowCount, 1);
    const second = await create(one, { kind: 'noop', input: {}, callback_url: receiver.url('/slot') });
    receiver.release('/slot');
    const [, req] = await receiver.waitFor('/slot', 2, 10_000);
    assert.equal(verified(req!).data.id, second.id);
  } finally {
    await lock.query('ROLLBACK');
    await lock.end();
  }
  // The first attempt's record waited for the lock and then went through: one attempt, delivered. (When a slot
  // was held until its record was written, the second delivery went out only after that record's deadline had
  // failed it, and the first delivery was tried a second time once its hold had passed.)
  await waitFor(
    'the first delivery recorded',
    async () => (await deliveries(one, first.id))[0]?.status === 'delivered',
  );
  const [d] = await deliveries(one, first.id);
  assert.deepEqual(
    d?.attempts.map((a) => [a.attempt, a.response_status]),
    [[1, 200]],
  );
  assert.equal(one.logs.filter((l) => l.event === 'webhook.store_failed').length, 0, 'no record failed');
});

test('with every slot busy the next due delivery is claimed and waits for one; unsent at shutdown, it is given back', async () => {
  // One slot, its request held: the next delivery is claimed ahead (its attempt counted, nothing sent), so that it
  // goes out the moment the slot frees. Stopped before that, the process gives it back: due at once, uncounted.
  const db = await database();
  const one = await start({ DATABASE_URL: db.url, ...FAST, WEBHOOK_CONCURRENCY: '1' });
  receiver.reply('/ahead', 'hold');
  await create(one, { kind: 'noop', input: {}, callback_url: receiver.url('/ahead') });
  await receiver.waitFor('/ahead', 1);
  const second = await create(one, { kind: 'noop', input: {}, callback_url: receiver.url('/ahead') });
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    const row = async () =>
      (
        await pool.query<{ attempt: number; due_now: boolean; history: unknown[] }>(
          `SELECT attempt, next_attempt_at <= now() AS due_now, history
           FROM taskd.webhook_deliveries WHERE task_id = $1`,
          [second.id],
        )
      ).rows[0];
    await waitFor(
      'the second delivery claimed while the slot is busy',
      async () => (await row())?.attempt === 1,
    );
    assert.equal(receiver.to('/ahead').length, 1, 'only the first delivery went out');
    one.kill('SIGTERM');
    assert.equal((await one.exited).code, 0);
    assert.deepEqual(await row(), { attempt: 0, due_now: true, history: [] });
    assert.equal(receiver.to('/ahead').length, 1, 'the second was never sent');
    assert.equal(one.logs.filter((l) => l.event === 'webhook.store_failed').length, 0);
  } finally {
    receiver.release('/ahead');
    await pool.end();
  }
});

test('an attempt without an answer in WEBHOOK_TIMEOUT_MS is timed out and retried; one cut off by a stop is interrupted', async () => {
  const db = await database();
  const one = await start({ DATABASE_URL: db.url, ...FAST, WEBHOOK_TIMEOUT_MS: '300' });
  receiver.reply('/slow', 'hang');
  const slow = await create(one, { kind: 'noop', input: {}, callback_url: receiver.url('/slow') });
  await waitFor(
    'delivered on the second attempt',
    async () => (await deliveries(one, slow.id))[0]?.status === 'delivered',
  );
  const [d] = await deliveries(one, slow.id);
  assert.deepEqual(
    d?.attempts.map((a) => [a.attempt, a.response_status, a.error]),
    [
      [1, null, 'timed out after 300 ms (WEBHOOK_TIMEOUT_MS)'],
      [2, 200, null],
    ],
  );

  // A stop aborts the request out: recorded as interrupted, due again at once, before the process exits.
  receiver.reply('/cut', 'hold');
  const cut = await create(one, { kind: 'noop', input: {}, callback_url: receiver.url('/cut') });
  await receiver.waitFor('/cut', 1);
  one.kill('SIGTERM');
  assert.equal((await one.exited).code, 0);
  receiver.release('/cut');
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    const { rows } = await pool.query<{ status: string; due_now: boolean; errors: unknown[] }>(
      `SELECT status, next_attempt_at <= now() AS due_now, jsonb_path_query_array(history, '$[*].error') AS errors
       FROM taskd.webhook_deliveries WHERE task_id = $1`,
      [cut.id],
    );
    assert.deepEqual(rows, [
      { status: 'pending', due_now: true, errors: ['interrupted: the service shut down during the attempt'] },
    ]);
  } finally {
    await pool.end();
  }
});

test('failed and cancelled tasks are delivered as task.failed and task.cancelled', async () => {
  const failed = await create(server, {
    kind: 'simulate',
    input: { ms: 0, fail: 'broken' },
    max_attempts: 1,
    callback_url: receiver.url('/failed'),
  });
  const cancelled = await create(server, {
    kind: 'noop',
    delay_ms: 3_600_000,
    callback_url: receiver.url('/cancelled'),
  });
  await fetch(`${server.url}/v1/tasks/${cancelled.id}/cancel`, { method: 'POST' });
  const [f] = await receiver.waitFor('/failed', 1);
  const [c] = await receiver.waitFor('/cancelled', 1);
  const fb = verified(f!);
  assert.equal(fb.type, 'task.failed');
  assert.equal(fb.data.id, failed.id);
  assert.deepEqual(fb.data.error, { type: 'error', message: 'broken' });
  const cb = verified(c!);
  assert.equal(cb.type, 'task.cancelled');
  assert.equal(cb.data.state, 'cancelled');
});

test('no 2xx: retried with backoff under the same webhook-id until delivered; each attempt is listed', async () => {
  receiver.reply('/flaky', { status: 500 }, { status: 503 });
  const task = await create(server, { kind: 'noop', callback_url: receiver.url('/flaky') });
  const reqs = await receiver.waitFor('/flaky', 3);
  assert.equal(new Set(reqs.map((r) => r.headers['webhook-id'])).size, 1, 'one webhook-id for all attempts');
  assert.equal(new Set(reqs.map((r) => r.body)).size, 1, 'the same body every time');
  for (const r of reqs) verified(r);
  await waitFor('delivered', async () => (await deliveries(server, task.id))[0]?.status === 'delivered');
  const [d] = await deliveries(server, task.id);
  assert.equal(d?.attempt, 3);
  assert.deepEqual(
    d?.attempts.map((a) => [a.attempt, a.response_status, a.error]),
    [
      [1, 500, 'HTTP 500'],
      [2, 503, 'HTTP 503'],
      [3, 200, null],
    ],
  );
});

test('a receiver that never answers 2xx is given up after WEBHOOK_MAX_ATTEMPTS', async () => {
  receiver.reply('/down', { status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
  const task = await create(server, { kind: 'noop', callback_url: receiver.url('/down') });
  const gaveUp = await server.waitForEvent('webhook.failed', (l) => l.task_id === task.id);
  assert.equal(gaveUp.attempts, 3);
  const [d] = await deliveries(server, task.id);
  assert.equal(d?.status, 'failed');
  assert.equal(d?.attempt, 3);
  assert.equal(d?.next_attempt_at, null);
  assert.equal(d?.error, 'HTTP 500');
  assert.equal(receiver.to('/down').length, 3);
});

test('a callback_url the address guard refuses is a failed delivery with a clear error', async () => {
  const guarded = await start({ DATABASE_URL: (await database()).url, WEBHOOK_SECRET: SECRET });
  const task = await create(guarded, { kind: 'noop', callback_url: receiver.url('/refused') });
  await guarded.waitForEvent('webhook.failed', (l) => l.task_id === task.id);
  const [d] = await deliveries(guarded, task.id);
  assert.equal(d?.status, 'failed');
  assert.equal(d?.attempt, 1);
  assert.match(d?.error ?? '', /refused address 127\.0\.0\.1 \(loopback\)/);
  assert.equal(receiver.to('/refused').length, 0);
});

test('the deliveries endpoint: [] for a task without webhooks, 404 for no task, 400 for a malformed id', async () => {
  const task = await create(server, { kind: 'noop' });
  assert.deepEqual(await deliveries(server, task.id), []);
  const missing = await fetch(`${server.url}/v1/tasks/00000000-0000-4000-8000-000000000000/deliveries`);
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'task_not_found');
  const bad = await fetch(`${server.url}/v1/tasks/nope/deliveries`);
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { code: string }).code, 'invalid_request');
});

test('kill -9 after the terminal state committed, before any delivery: delivered after the restart', async () => {
  const db = await database();
  // WEBHOOK_CONCURRENCY=0: this process runs tasks but delivers nothing, so the kill surely comes first.
  const first = await start({ DATABASE_URL: db.url, ...FAST, WEBHOOK_CONCURRENCY: '0' });
  const task = await create(first, { kind: 'noop', callback_url: receiver.url('/after-crash') });
  await waitFor('completed', async () => {
    const t = (await (await fetch(`${first.url}/v1/tasks/${task.id}?wait=10`)).json()) as Task;
    return t.state === 'completed';
  });
  assert.equal((await deliveries(first, task.id))[0]?.status, 'pending');
  first.kill('SIGKILL');
  await first.exited;
  assert.equal(receiver.to('/after-crash').length, 0);

  const second = await start({ DATABASE_URL: db.url, ...FAST });
  const [req] = await receiver.waitFor('/after-crash', 1);
  assert.equal(verified(req!).data.id, task.id);
  await waitFor('delivered', async () => (await deliveries(second, task.id))[0]?.status === 'delivered');
});

test('kill -9 while a delivery is in flight: after the restart it is delivered again, same webhook-id', async () => {
  const db = await database();
  receiver.reply('/in-flight', 'hang');
  // Long enough that a loaded machine does not time the redelivery out as well (the hung attempt needs no timeout:
  // its process is killed).
  const env = { DATABASE_URL: db.url, ...FAST, WEBHOOK_TIMEOUT_MS: '3000' };
  const first = await start(env);
  const task = await create(first, { kind: 'noop', callback_url: receiver.url('/in-flight') });
  const [hung] = await receiver.waitFor('/in-flight', 1);
  first.kill('SIGKILL');
  await first.exited;

  const second = await start(env);
  const [, again] = await receiver.waitFor('/in-flight', 2);
  assert.equal(again?.headers['webhook-id'], hung?.headers['webhook-id']);
  assert.equal(verified(again!).data.id, task.id);
  await waitFor('delivered', async () => (await deliveries(second, task.id))[0]?.status === 'delivered');
  const [d] = await deliveries(second, task.id);
  assert.equal(d?.attempt, 2, 'the interrupted attempt counts');
});

test('a task failed by the reaper (its process killed mid-run) is delivered too', async () => {
  const db = await database();
  const env = { DATABASE_URL: db.url, ...FAST, LEASE_MS: '1000' };
  const first = await start(env);
  const task = await create(first, {
    kind: 'simulate',
    input: { ms: 60_000 },
    max_attempts: 1,
    callback_url: receiver.url('/reaped'),
  });
  await first.waitForEvent('task.started', (l) => l.task_id === task.id);
  first.kill('SIGKILL');
  await first.exited;
  await start(env);
  const [req] = await receiver.waitFor('/reaped', 1);
  const body = verified(req!);
  assert.equal(body.type, 'task.failed');
  assert.equal((body.data.error as { type: string }).type, 'worker_lost');
});
