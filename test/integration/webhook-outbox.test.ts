/**
 * The outbox of completion webhooks at the store: every statement that ends a task with a callback_url writes its
 * delivery in the same statement (settle, cancel of each state, reaper, orphaned run, shutdown), with the task
 * frozen as it is at that moment (external workers' complete, fail and expired leases too); statements that do not end a task, and tasks without a callback_url, write none.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { TaskStore, type TaskRecord } from '../../src/db/store.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { newV1Task } from '../helpers/engine.js';

const log = createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
const CALLBACK = 'https://receiver.example/hook';
const lost = (retry: 'later' | 'now' | 'never') => ({
  failure: 'worker_lost' as const,
  result: 'failed: worker lost',
  retry,
  backoff: { baseMs: 1000, maxMs: 60_000 },
});

let db: TestDatabase;
let store: TaskStore;

before(async () => {
  db = await createTestDatabase();
  await migrate(db.pool, log);
  store = new TaskStore(db.pool);
});
after(async () => db.drop());

interface Row {
  id: string;
  event: string;
  url: string;
  status: string;
  attempt: number;
  payload: { type: string; timestamp: string; data: TaskRecord };
}
const deliveries = async (taskId: string) =>
  (
    await db.pool.query<Row>(
      'SELECT id, event, url, status, attempt, payload FROM taskd.webhook_deliveries WHERE task_id = $1',
      [taskId],
    )
  ).rows;

/** Inserts a v1 task and claims it as `owner` (a registered worker): it is running, attempt 1. */
async function running(owner: string, fields: Parameters<typeof newV1Task>[1] = {}) {
  const [task] = await store.taskInsertManyV1([
    newV1Task(`k-${randomUUID()}`, { callbackUrl: CALLBACK, ...fields }),
  ]);
  await db.pool.query(
    "UPDATE taskd.tasks SET state = 'running', owner = $2, attempt = 1, started_at = now() WHERE id = $1",
    [task!.id, owner],
  );
  return task!.id;
}

async function worker(): Promise<string> {
  const id = randomUUID();
  await store.workerRegister(id, 'host', 1, 60_000, 10);
  return id;
}

test('a settle to completed or failed writes the delivery, payload frozen as the task then was', async () => {
  const w = await worker();
  const done = await running(w);
  const broken = await running(w);
  const retried = await running(w, { maxAttempts: 3 });
  const plain = await running(w, { callbackUrl: null });
  await store.taskSettleMany([
    { id: done, owner: w, attempt: 1, decision: { state: 'completed', result: '', output: '{"n":1}' } },
    { id: broken, owner: w, attempt: 1, decision: { state: 'failed', failure: 'error', result: 'boom' } },
    {
      id: retried,
      owner: w,
      attempt: 1,
      decision: { state: 'scheduled', failure: 'error', result: 'again', delayMs: 60_000 },
    },
    { id: plain, owner: w, attempt: 1, decision: { state: 'completed', result: '', output: '1' } },
  ]);
  const [d] = await deliveries(done);
  assert.ok(d);
  assert.equal(d.event, 'task.completed');
  assert.equal(d.url, CALLBACK);
  assert.equal(d.status, 'pending');
  assert.equal(d.attempt, 0);
  assert.equal(d.payload.type, 'task.completed');
  assert.match(d.payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  // The frozen task is the task as v1 reads it right after the transition.
  assert.deepEqual(d.payload.data, await store.taskGetRecord(done));
  assert.deepEqual(d.payload.data.result, { n: 1 });

  const [f] = await deliveries(broken);
  assert.equal(f?.event, 'task.failed');
  assert.deepEqual(f?.payload.data.error, { type: 'error', message: 'boom' });
  assert.deepEqual(await deliveries(retried), [], 'a retry is not terminal');
  assert.deepEqual(await deliveries(plain), [], 'no callback_url, no delivery');
});

test('a cancel writes task.cancelled whatever state the task was in; a cancel that changes nothing writes none', async () => {
  const w = await worker();
  const [queued, scheduled] = await store.taskInsertManyV1([
    newV1Task('k-cancel', { callbackUrl: CALLBACK }),
    newV1Task('k-cancel', { callbackUrl: CALLBACK, runAt: new Date(Date.now() + 3_600_000) }),
  ]);
  const run = await running(w);
  for (const id of [queued!.id, scheduled!.id, run]) {
    assert.equal((await store.taskCancel(id, 'cancelled')).cancelled, true);
    const rows = await deliveries(id);
    assert.deepEqual(
      rows.map((r) => [r.event, r.payload.data.state]),
      [['task.cancelled', 'cancelled']],
    );
  }
  assert.equal((await store.taskCancel(run, 'cancelled')).cancelled, false);
  assert.equal((await deliveries(run)).length, 1);
});

test('the reaper, an orphaned run and a shutdown write the delivery of the runs they fail', async () => {
  // Reaper: a worker whose lease expired.
  const dead = await worker();
  const reapedTask = await running(dead);
  await db.pool.query("UPDATE taskd.workers SET expires_at = now() - interval '1 second' WHERE id = $1", [
    dead,
  ]);
  const reaped = await store.workerReapExpired(randomUUID(), lost('later'));
  assert.ok(reaped.tasks.includes(reapedTask));
  assert.deepEqual(
    (await deliveries(reapedTask)).map((r) => [r.event, r.payload.data.error?.type]),
    [['task.failed', 'worker_lost']],
  );

  // Orphaned: running under an owner that has no worker row.
  const orphan = await running(randomUUID());
  assert.ok((await store.taskFailOrphaned(lost('later'))).failed.includes(orphan));
  assert.equal((await deliveries(orphan))[0]?.event, 'task.failed');

  // Shutdown: the worker's deregistration fails what it still runs; one with attempts left is requeued instead.
  const leaving = await worker();
  const last = await running(leaving);
  const again = await running(leaving, { maxAttempts: 2 });
  const ended = await store.workerDeregister(leaving, { ...lost('now'), failure: 'shutdown' });
  assert.deepEqual(ended.failed, [last]);
  assert.deepEqual(
    (await deliveries(last)).map((r) => [r.event, r.payload.data.error?.type]),
    [['task.failed', 'shutdown']],
  );
  assert.deepEqual(await deliveries(again), []);
});

test('a task retried by hand and ended again gets a second delivery, with a webhook id of its own', async () => {
  const w = await worker();
  const id = await running(w);
  await store.taskSettleMany([
    { id, owner: w, attempt: 1, decision: { state: 'failed', failure: 'error', result: 'first' } },
  ]);
  await store.taskRetry(id);
  assert.equal((await store.taskCancel(id, 'cancelled')).cancelled, true);
  const rows = await deliveries(id);
  assert.deepEqual(rows.map((r) => r.event).sort(), ['task.cancelled', 'task.failed']);
  assert.notEqual(rows[0]!.id, rows[1]!.id);
  const listed = await store.webhookDeliveriesOfTask(id);
  assert.equal(listed?.length, 2);
  assert.deepEqual(await store.webhookDeliveriesOfTask(randomUUID()), undefined);
});

test("an external worker's complete and fail, and the reaping of its expired lease, write the delivery", async () => {
  const [done, failed, expired] = await store.taskInsertManyV1(
    ['ext', 'ext', 'ext'].map((kind) => newV1Task(kind, { callbackUrl: CALLBACK })),
  );
  const leased = await store.taskLease(['ext'], 3, 60_000, 'box-1');
  assert.equal(leased.length, 3);
  const token = (id: string) => leased.find((l) => l.task.id === id)!.lease.token;

  assert.equal((await store.taskLeaseComplete(done!.id, token(done!.id), '"ok"'))?.state, 'completed');
  const noRetry = {
    failure: 'error' as const,
    result: 'boom',
    retry: 'never' as const,
    backoff: lost('never').backoff,
  };
  assert.equal((await store.taskLeaseFail(failed!.id, token(failed!.id), noRetry))?.state, 'failed');
  await db.pool.query("UPDATE taskd.tasks SET lease_expires_at = now() - interval '1 second' WHERE id = $1", [
    expired!.id,
  ]);
  assert.deepEqual((await store.taskReapExpiredLeases(lost('never'))).failed, [expired!.id]);

  for (const [id, type] of [
    [done!.id, 'task.completed'],
    [failed!.id, 'task.failed'],
    [expired!.id, 'task.failed'],
  ] as const) {
    const [d, ...more] = await deliveries(id);
    assert.equal(more.length, 0, id);
    assert.equal(d?.event, type);
    assert.deepEqual(d?.payload.data, await store.taskGetRecord(id));
  }
});

test('a bulk cancel ends leases and writes the delivery of every task it cancels', async () => {
  const [queued, leased] = await store.taskInsertManyV1(
    ['bulk', 'bulk'].map((kind) => newV1Task(kind, { callbackUrl: CALLBACK })),
  );
  await db.pool.query("UPDATE taskd.tasks SET state = 'queued' WHERE id = $1", [queued!.id]);
  const [lease] = await store.taskLease(['bulk'], 1, 60_000, 'box-2');
  assert.ok(lease);
  const n = await store.taskBulkCancel(
    { states: ['scheduled', 'queued', 'running'], kind: 'bulk', limit: 10 },
    'cancelled',
  );
  assert.equal(n, 2);
  for (const id of [queued!.id, leased!.id]) {
    const [d] = await deliveries(id);
    assert.equal(d?.event, 'task.cancelled', id);
  }
  assert.equal(await store.taskLeaseComplete(lease.task.id, lease.lease.token, '"late"'), undefined);
});

test('the ends of many attempts are recorded in one statement, each fenced by the attempt it was claimed as', async () => {
  const w = await worker();
  const ids = [await running(w), await running(w), await running(w), await running(w)];
  await store.taskSettleMany(
    ids.map((id) => ({
      id,
      owner: w,
      attempt: 1,
      decision: { state: 'completed', result: '', output: '1' },
    })),
  );
  const webhookIds = await Promise.all(ids.map(async (id) => (await deliveries(id))[0]!.id));
  // Claimed: attempt 1 of each (other tests' pending deliveries may be claimed too; only these are recorded).
  const claimed = await store.webhookClaimDue(1000, 60_000);
  for (const id of webhookIds) assert.ok(claimed.some((c) => c.id === id && c.attempt === 1));
  const startedAt = new Date(Date.now() - 50);
  const [delivered, retry, failed, stale] = webhookIds as [string, string, string, string];
  const written = await store.webhookRecordAttempts([
    {
      id: delivered,
      attempt: 1,
      status: 'delivered',
      responseStatus: 204,
      error: null,
      retryInMs: 0,
      startedAt,
    },
    {
      id: retry,
      attempt: 1,
      status: 'pending',
      responseStatus: 503,
      error: 'HTTP 503',
      retryInMs: 60_000,
      startedAt,
    },
    {
      id: failed,
      attempt: 1,
      status: 'failed',
      responseStatus: null,
      error: 'refused',
      retryInMs: 0,
      startedAt,
    },
    // An attempt given up on (the row was claimed again as attempt 2 meanwhile) changes nothing.
    { id: stale, attempt: 2, status: 'delivered', responseStatus: 204, error: null, retryInMs: 0, startedAt },
  ]);
  assert.deepEqual(written, [true, true, true, false]);
  const rows = (
    await db.pool.query<{
      id: string;
      status: string;
      response_status: number | null;
      error: string | null;
      due_in_s: number | null;
      delivered: boolean;
      history: { attempt: number; response_status: number | null; error: string | null }[];
    }>(
      `SELECT id, status, response_status, error, delivered_at IS NOT NULL AS delivered, history,
              extract(epoch FROM next_attempt_at - now())::float8 AS due_in_s
       FROM taskd.webhook_deliveries WHERE id = ANY($1)`,
      [webhookIds],
    )
  ).rows;
  const row = (id: string) => rows.find((r) => r.id === id)!;
  assert.equal(row(delivered).status, 'delivered');
  assert.equal(row(delivered).delivered, true);
  assert.equal(row(delivered).due_in_s, null);
  assert.deepEqual(
    row(delivered).history.map((h) => [h.attempt, h.response_status, h.error]),
    [[1, 204, null]],
  );
  assert.equal(row(retry).status, 'pending');
  assert.ok(row(retry).due_in_s! > 50 && row(retry).due_in_s! <= 60, 'due again after its retry wait');
  assert.deepEqual(
    row(retry).history.map((h) => [h.attempt, h.response_status, h.error]),
    [[1, 503, 'HTTP 503']],
  );
  assert.equal(row(failed).status, 'failed');
  assert.equal(row(failed).error, 'refused');
  assert.equal(row(failed).due_in_s, null);
  assert.equal(row(stale).status, 'pending', 'a stale attempt is not recorded');
  assert.deepEqual(row(stale).history, []);
  assert.deepEqual(await store.webhookRecordAttempts([]), []);
});
