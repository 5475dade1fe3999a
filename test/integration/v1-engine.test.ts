import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import type pg from 'pg';
import { MIGRATIONS_DIR, migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { DbUnavailableError } from '../../src/db/errors.js';
import { TaskStore, type NewTaskV1 } from '../../src/db/store.js';
import { HandlerRegistry, type Handler } from '../../src/handlers/registry.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { EngineStack, newV1Task, type StackOptions } from '../helpers/engine.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('silent');

/** The v1 tasks of these tests: JSON input, three attempts, a short backoff. */
const v1 = (kind: string, fields: Partial<NewTaskV1> = {}) =>
  newV1Task(kind, {
    input: JSON.stringify({ n: 1 }),
    maxAttempts: 3,
    backoffBaseMs: 20,
    backoffMaxMs: 200,
    ...fields,
  });

/** A handler whose runs the test releases by hand. */
function gate() {
  const waiting: { id: string; release: () => void }[] = [];
  const handler: Handler = (_input, ctx) =>
    new Promise((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
      waiting.push({ id: ctx.taskId, release: () => resolve('released') });
    });
  return { handler, waiting };
}

describe('v1 tasks in the engine, on a real database', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let store: TaskStore;
  const stacks: EngineStack[] = [];

  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 10, applicationName: 'taskd-test' }, log);
    await migrate(pool, log);
    store = new TaskStore(pool);
  });
  afterEach(async () => {
    for (const s of stacks.splice(0)) await s.stop(0);
    await pool.query('DELETE FROM taskd.tasks');
    await pool.query('DELETE FROM taskd.queues');
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  async function stack(handlers: HandlerRegistry, options: StackOptions = {}) {
    const s = await new EngineStack(pool, db.url, handlers, log, options).start();
    stacks.push(s);
    return s;
  }

  const record = async (id: string) => (await store.taskGetRecord(id))!;

  test('a failing run is retried after a backoff until it succeeds, and every run is in the history', async () => {
    let runs = 0;
    await stack(
      new HandlerRegistry().register('flaky', () => {
        if (++runs < 3) throw new Error(`failure ${runs}`);
        return { ok: true };
      }),
      { promoter: true },
    );
    const [task] = await store.taskInsertManyV1([v1('flaky', { backoffBaseMs: 100, backoffMaxMs: 1000 })]);
    await waitFor('completed', async () => (await record(task!.id)).state === 'completed', {
      timeoutMs: 10_000,
    });
    const done = await record(task!.id);
    assert.equal(done.attempt, 3);
    assert.deepEqual(done.result, { ok: true });
    assert.equal(done.error, null);
    const attempts = (await store.taskAttempts(task!.id))!;
    assert.deepEqual(
      attempts.map((a) => [a.attempt, a.outcome, a.error?.message ?? null]),
      [
        [1, 'retried', 'failure 1'],
        [2, 'retried', 'failure 2'],
        [3, 'completed', null],
      ],
    );
    assert.ok(attempts.every((a) => a.worker_id && a.started_at && a.finished_at));
  });

  test('a task that keeps failing fails for good after max_attempts; retryable: false fails at once', async () => {
    await stack(
      new HandlerRegistry()
        .register('always', () => {
          throw new Error('never works');
        })
        .register('final', () => {
          throw Object.assign(new Error('bad input: do not retry'), { retryable: false });
        }),
      { promoter: true },
    );
    const [always, final] = await store.taskInsertManyV1([v1('always', { maxAttempts: 2 }), v1('final')]);
    await waitFor('both failed', async () => {
      const [a, f] = await Promise.all([record(always!.id), record(final!.id)]);
      return a.state === 'failed' && f.state === 'failed';
    });
    const a = await record(always!.id);
    assert.equal(a.attempt, 2);
    assert.deepEqual(a.error, { type: 'error', message: 'never works' });
    const f = await record(final!.id);
    assert.equal(f.attempt, 1);
    assert.deepEqual(f.error, { type: 'error', message: 'bad input: do not retry' });
  });

  test('graceful shutdown puts a task with attempts left back in the queue; one without fails', async () => {
    const g = gate();
    const s = await stack(new HandlerRegistry().register('long', g.handler));
    const [retryable, last] = await store.taskInsertManyV1([
      v1('long', { maxAttempts: 2 }),
      v1('long', { maxAttempts: 1 }),
    ]);
    await waitFor('both running', () => g.waiting.length === 2);
    await s.stop(0);
    stacks.splice(stacks.indexOf(s), 1);
    const r = await record(retryable!.id);
    assert.equal(r.state, 'queued');
    assert.equal(r.started_at, null);
    assert.deepEqual(
      (await store.taskAttempts(retryable!.id))!.map((x) => x.outcome),
      ['requeued'],
    );
    const l = await record(last!.id);
    assert.equal(l.state, 'failed');
    assert.deepEqual(l.error, {
      type: 'shutdown',
      message: 'failed: the server shut down before the task finished',
    });
  });

  test("a lost worker's task with attempts left is retried, not failed", async () => {
    const g = gate();
    const a = await stack(new HandlerRegistry().register('lost', g.handler), { leaseMs: 1000 });
    const [task] = await store.taskInsertManyV1([v1('lost', { maxAttempts: 2 })]);
    await waitFor('running', () => g.waiting.length === 1);
    // a goes silent; another process reaps it.
    await a.heartbeat['periodic'].stop();
    await pool.query("UPDATE taskd.workers SET expires_at = now() - interval '1 second' WHERE id = $1", [
      a.workerId,
    ]);
    const reaped = await store.workerReapExpired(randomUUID(), {
      failure: 'worker_lost',
      result: 'lost',
      retry: 'later',
      backoff: { baseMs: 10, maxMs: 10 },
    });
    assert.deepEqual(reaped.retried, [task!.id]);
    assert.deepEqual(reaped.tasks, []);
    assert.equal((await record(task!.id)).state, 'scheduled');
  });

  test('higher priority runs first; FIFO among equals', async () => {
    const order: number[] = [];
    const inputs = [1, 2, 3, 4];
    const priorities = [0, 5, 0, 5];
    await store.taskInsertManyV1(
      inputs.map((n, i) => v1('ordered', { input: JSON.stringify(n), priority: priorities[i]! })),
    );
    await stack(
      new HandlerRegistry().register('ordered', (input) => {
        order.push(input as number);
        return null;
      }),
      { concurrency: 1 },
    );
    await waitFor('all ran', () => order.length === 4);
    assert.deepEqual(order, [2, 4, 1, 3]);
  });

  test('a paused queue is not claimed from until it is resumed', async () => {
    const ran: string[] = [];
    await store.queueUpdate('slow-lane', true, undefined);
    const [held, free] = await store.taskInsertManyV1([v1('mark', { queue: 'slow-lane' }), v1('mark')]);
    await stack(new HandlerRegistry().register('mark', (_i, ctx) => void ran.push(ctx.taskId)));
    await waitFor('the other queue ran', () => ran.includes(free!.id));
    assert.equal((await record(held!.id)).state, 'queued');
    await store.queueUpdate('slow-lane', false, undefined);
    await waitFor('resumed and ran', () => ran.includes(held!.id));
  });

  test("a queue's concurrency limit holds across two processes together", async () => {
    await store.queueUpdate('limited', undefined, 2);
    const g = gate();
    const handlers = new HandlerRegistry().register('gated', g.handler);
    await stack(handlers, { concurrency: 10, pollIntervalMs: 50 });
    await stack(handlers, { concurrency: 10, pollIntervalMs: 50 });
    await store.taskInsertManyV1(Array.from({ length: 8 }, () => v1('gated', { queue: 'limited' })));
    let maxRunning = 0;
    let done = 0;
    while (done < 8) {
      await waitFor('a run', () => g.waiting.length > 0, { timeoutMs: 10_000 });
      const { rows } = await pool.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM taskd.tasks WHERE queue = 'limited' AND state = 'running'",
      );
      maxRunning = Math.max(maxRunning, rows[0]!.n);
      g.waiting.shift()!.release();
      done++;
    }
    assert.ok(maxRunning <= 2, `at most 2 ran at once, saw ${maxRunning}`);
    assert.equal(maxRunning, 2, 'both slots were used');
  });

  test('tasks of unlimited queues start without waiting for the claim from limited queues, or its failure', async () => {
    await store.queueUpdate('limited', undefined, 1);
    // The first claim from limited queues that follows a claim of tasks waits for the test, and fails once it is
    // let through.
    let letThrough: () => void = () => {};
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    let tookTasks = false;
    let heldClaims = 0;
    let limitedClaims = 0;
    class HeldStore extends TaskStore {
      override async taskClaimAvailable(...args: Parameters<TaskStore['taskClaimAvailable']>) {
        const tasks = await super.taskClaimAvailable(...args);
        tookTasks = tasks.length > 0;
        return tasks;
      }
      override async taskClaimLimited(...args: Parameters<TaskStore['taskClaimLimited']>) {
        limitedClaims++;
        if (tookTasks && heldClaims === 0) {
          heldClaims++;
          await held;
          throw new DbUnavailableError('the database went away between the two claims');
        }
        return super.taskClaimLimited(...args);
      }
    }
    const g = gate();
    const handlers = new HandlerRegistry().register('gated', g.handler);
    const s = await stack(handlers, { concurrency: 10, pollIntervalMs: 50, store: new HeldStore(pool) });
    const [task] = await store.taskInsertManyV1([v1('gated')]);
    try {
      await waitFor('the task started while the limited claim is held', () => g.waiting.length === 1);
      assert.equal(heldClaims, 1);
    } finally {
      letThrough();
    }
    // The failed claim from limited queues takes nothing back: the task handed over runs to its end.
    const claimsBefore = limitedClaims;
    await waitFor('the next claim', () => limitedClaims > claimsBefore);
    g.waiting.shift()!.release();
    await waitFor('completed', async () => (await record(task!.id)).state === 'completed');
    assert.deepEqual(s.fatal, []);
  });

  test('a create whose insert is under way as a stop begins starts its task within the grace period, and it completes', async () => {
    const g = gate();
    const s = await stack(new HandlerRegistry().register('gated', g.handler), { concurrency: 10 });
    // What the service's create does: slots reserved, the insert sets the task running, the engine runs it.
    let reservation: ReturnType<typeof s.engine.reserveForCreates>;
    await waitFor(
      'the engine takes creates',
      () => (reservation = s.engine.reserveForCreates(1)) !== undefined,
    );
    const dispatch = { owner: reservation!.owner, max: reservation!.slots, started: [] };
    const [task] = await store.taskInsertManyV1([v1('gated')], dispatch);
    assert.equal(task!.state, 'running');
    assert.equal(dispatch.started.length, 1);
    // The stop begins before the engine hears of the insert: it takes no more creates, and waits for this one.
    const stopped = s.engine.stop(10_000);
    assert.equal(s.engine.reserveForCreates(1), undefined);
    s.engine.dispatched(reservation!, dispatch.started);
    await waitFor('the task started during the grace period', () => g.waiting.length === 1);
    g.waiting.shift()!.release();
    await stopped;
    const ended = await record(task!.id);
    assert.equal(ended.state, 'completed');
    assert.equal(ended.attempt, 1);
  });

  test('a task with a future run_at is scheduled, and runs once that time has come', async () => {
    const ran: string[] = [];
    await stack(
      new HandlerRegistry().register('later', (_i, ctx) => void ran.push(ctx.taskId)),
      { promoter: true },
    );
    const [task] = await store.taskInsertManyV1([v1('later', { runAt: new Date(Date.now() + 700) })]);
    assert.equal(task!.state, 'scheduled');
    assert.equal((await record(task!.id)).state, 'scheduled');
    await waitFor('ran', () => ran.includes(task!.id), { timeoutMs: 5000 });
  });
});

test('rows of the original API read identically after the v1 migrations', async () => {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 2, applicationName: 'taskd-test' }, log);
  const early = await mkdtemp(path.join(tmpdir(), 'taskd-migrations-'));
  try {
    // The schema as the original service left it: migrations 0001-0003 only.
    for (const f of ['0001_tasks.sql', '0002_running_owner_id_index.sql', '0003_leader.sql']) {
      await cp(new URL(f, MIGRATIONS_DIR), path.join(early, f));
    }
    await migrate(pool, log, pathToFileURL(`${early}/`));
    await pool.query(`
      INSERT INTO taskd.tasks (id, handler, input, state, result, failure, timeout_ms, attempt, owner, started_at, finished_at)
      VALUES ('00000000-0000-4000-8000-000000000001', 'simulate', 'queued one', 'queued', '', NULL, 240000, 0, NULL, NULL, NULL),
             ('00000000-0000-4000-8000-000000000002', 'simulate', 'running one', 'running', '', NULL, 240000, 1, gen_random_uuid(), now(), NULL),
             ('00000000-0000-4000-8000-000000000003', 'simulate', 'done', 'completed', 'processed task "done" in 5 ms', NULL, 240000, 1, gen_random_uuid(), now(), now()),
             ('00000000-0000-4000-8000-000000000004', 'simulate', 'Ünïcødé ✓', 'failed', 'failed: the server shut down before the task finished', 'shutdown', 240000, 1, gen_random_uuid(), now(), now())`);
    const store = new TaskStore(pool);
    const ids = [1, 2, 3, 4].map((n) => `00000000-0000-4000-8000-00000000000${n}`);
    // What check-result read before v1: the statement of the original service, verbatim.
    const { rows } = await pool.query<{
      id: string;
      input: string;
      state: string;
      result: string;
      created_at: string;
    }>(
      `SELECT id, input, state, result,
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at
       FROM taskd.tasks WHERE id = ANY($1::uuid[]) ORDER BY id`,
      [ids],
    );
    const before = rows.map((r) => ({
      id: r.id,
      task: r.input,
      state: r.state,
      result: r.result,
      createdAt: r.created_at,
    }));
    await migrate(pool, log);
    const afterwards = await Promise.all(ids.map((id) => store.taskGet(id)));
    assert.deepEqual(afterwards, before);
    // And v1 reads them as tasks of kind simulate with one attempt allowed.
    const done = (await store.taskGetRecord(ids[2]!))!;
    assert.equal(done.kind, 'simulate');
    assert.equal(done.input, 'done');
    assert.equal(done.result, 'processed task "done" in 5 ms');
    assert.equal(done.max_attempts, 1);
    assert.equal(done.queue, 'default');
  } finally {
    await rm(early, { recursive: true, force: true });
    await pool.end();
    await db.drop();
  }
});
