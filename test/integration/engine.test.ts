import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { TaskStore } from '../../src/db/store.js';
import type { Decision } from '../../src/domain/outcome.js';
import { TaskAbort } from '../../src/engine/abort.js';
import { HandlerRegistry, type Handler } from '../../src/handlers/registry.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, taskStates, type TestDatabase } from '../helpers/db.js';
import { EngineStack, insertTasks, taskRow, type StackOptions } from '../helpers/engine.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('silent');

/** A handler whose runs the test releases by hand, and which records what its signal said. */
function gate() {
  const waiting: (() => void)[] = [];
  const reasons: unknown[] = [];
  const handler: Handler = (_input, ctx) =>
    new Promise((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        reasons.push(ctx.signal.reason);
        reject(ctx.signal.reason);
      });
      waiting.push(() => resolve('released'));
    });
  return { handler, waiting, reasons };
}

/** Counts the named statements a pool runs (the pool itself is real). */
function countStatements(pool: pg.Pool): Map<string, number> {
  const counts = new Map<string, number>();
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as { name?: string } | string;
    const name = typeof first === 'object' && first.name ? first.name : 'unnamed';
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return original(...args);
  };
  return counts;
}

describe('engine, in process, on a real database', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let store: TaskStore;
  const engines: EngineStack[] = [];

  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 10, applicationName: 'taskd-test' }, log);
    await migrate(pool, log);
    store = new TaskStore(pool);
  });
  // Engines share the queue of this database: each test stops its own, so that none claims the next test's tasks.
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.stop(0);
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  async function startEngine(handlers: HandlerRegistry, options: StackOptions = {}) {
    const stack = await new EngineStack(pool, db.url, handlers, log, options).start();
    engines.push(stack);
    return stack;
  }

  const insert = (n: number, handler: string, timeoutMs = 60_000) =>
    insertTasks(store, n, handler, timeoutMs);
  const row = (id: string) => taskRow(pool, id);

  test('a handler that ignores its signal is failed at the deadline, and its late result is discarded', async () => {
    let lateReturn!: () => void;
    const returned = new Promise<void>((resolve) => (lateReturn = resolve));
    const handlers = new HandlerRegistry().register('stubborn', async () => {
      await new Promise((r) => setTimeout(r, 600));
      lateReturn();
      return 'late result';
    });
    const engine = await startEngine(handlers);
    const [id] = await insert(1, 'stubborn', 150);
    await waitFor('timeout', async () => (await row(id!))?.state === 'failed');
    assert.deepEqual(await row(id!), {
      state: 'failed',
      failure: 'timeout',
      result: 'task timed out after 150 ms',
    });
    await returned;
    await engine.stop(0);
    assert.deepEqual(await row(id!), {
      state: 'failed',
      failure: 'timeout',
      result: 'task timed out after 150 ms',
    });
  });

  test('a thrown error fails the task with its message; an unknown handler fails it too', async () => {
    const handlers = new HandlerRegistry().register('throws', () => Promise.reject(new Error('boom')));
    await startEngine(handlers);
    const [thrower] = await insert(1, 'throws');
    const [orphan] = await insert(1, 'nobody');
    await waitFor(
      'both failed',
      async () => (await row(thrower!))?.state === 'failed' && (await row(orphan!))?.state === 'failed',
    );
    assert.deepEqual(await row(thrower!), { state: 'failed', failure: 'error', result: 'boom' });
    assert.deepEqual(await row(orphan!), {
      state: 'failed',
      failure: 'no_handler',
      result: 'no handler named "nobody" in this process',
    });
  });

  test('an outcome write by a stale owner or attempt changes nothing', async () => {
    const g = gate();
    const engine = await startEngine(new HandlerRegistry().register('gated-fence', g.handler));
    const [id] = await insert(1, 'gated-fence');
    await waitFor('running', () => g.waiting.length === 1);
    const completed: Decision = { state: 'completed', result: 'forged' };
    const stale = await store.taskSettleMany([
      { id: id!, owner: randomUUID(), attempt: 1, decision: completed },
      { id: id!, owner: engine.workerId, attempt: 2, decision: completed },
    ]);
    assert.equal(stale.size, 0);
    assert.equal((await row(id!))?.state, 'running');
    g.waiting[0]!();
    await waitFor('completed', async () => (await row(id!))?.state === 'completed');
    assert.equal((await row(id!))?.result, 'released');
  });

  test('a process declared dead aborts its runs with reason lease_lost, cannot overwrite, and registers anew', async () => {
    const g = gate();
    const engine = await startEngine(new HandlerRegistry().register('gated-lease', g.handler), {
      leaseMs: 1200,
    });
    const [id] = await insert(1, 'gated-lease');
    await waitFor('running', () => g.waiting.length === 1);
    const firstId = engine.workerId;
    // Another process finds the lease expired and fails the task.
    await pool.query("UPDATE taskd.workers SET expires_at = now() - interval '1 second' WHERE id = $1", [
      firstId,
    ]);
    const reaped = await store.workerReapExpired(randomUUID(), {
      failure: 'worker_lost',
      result: 'failed: worker lost',
      retry: 'later',
      backoff: { baseMs: 1000, maxMs: 60_000 },
    });
    assert.deepEqual(reaped.tasks, [id]);
    await waitFor('abort seen by the handler', () => g.reasons.length === 1);
    const reason = g.reasons[0];
    assert.ok(reason instanceof TaskAbort && reason.kind === 'lease_lost');
    await waitFor('new registration', () => engine.workerId !== firstId);
    assert.deepEqual(await row(id!), {
      state: 'failed',
      failure: 'worker_lost',
      result: 'failed: worker lost',
    });
  });

  test('a worker whose lease ran out, or that is unknown, claims nothing', async () => {
    const [id] = await insert(1, 'nobody-claims-me');
    const expired = randomUUID();
    await store.workerRegister(expired, 'host', 1, 1000, 1);
    await pool.query("UPDATE taskd.workers SET expires_at = now() - interval '1 second' WHERE id = $1", [
      expired,
    ]);
    assert.deepEqual(await store.taskClaimAvailable(expired, 10), []);
    assert.deepEqual(await store.taskClaimAvailable(randomUUID(), 10), []);
    assert.equal((await row(id!))?.state, 'queued');
    await pool.query('DELETE FROM taskd.workers WHERE id = $1', [expired]);
    await pool.query('DELETE FROM taskd.tasks WHERE id = $1', [id]);
  });

  test('running tasks whose owner has no worker row are failed "worker lost" by the reaper', async () => {
    const [id] = await insert(1, 'orphan');
    // A claim that committed just after its worker was reaped leaves exactly this behind.
    await pool.query(
      "UPDATE taskd.tasks SET state = 'running', owner = $2, attempt = 1, started_at = now() WHERE id = $1",
      [id, randomUUID()],
    );
    await startEngine(new HandlerRegistry(), { leaseMs: 1000 });
    await waitFor('the orphan failed', async () => (await row(id!))?.state === 'failed');
    assert.deepEqual(await row(id!), {
      state: 'failed',
      failure: 'worker_lost',
      result: 'failed: worker lost (the process running this task stopped renewing its lease)',
    });
  });

  test('a notification wakes an idle worker at once, long before its poll', async () => {
    await startEngine(
      new HandlerRegistry().register('woken', () => 'ok'),
      { pollIntervalMs: 60_000 },
    );
    // Once a first task is done, the loop is idle, waiting on its 60 s poll.
    const [first] = await insert(1, 'woken');
    await waitFor('first completion', async () => (await row(first!))?.state === 'completed');
    const [id] = await insert(1, 'woken');
    await waitFor('completion', async () => (await row(id!))?.state === 'completed', { timeoutMs: 5000 });
  });

  test('without a notification, the poll still finds new tasks', async () => {
    await startEngine(
      new HandlerRegistry().register('polled', () => 'ok'),
      { pollIntervalMs: 200 },
    );
    const [first] = await insert(1, 'polled');
    await waitFor('first completion', async () => (await row(first!))?.state === 'completed');
    // Inserted behind the service's back: no NOTIFY is sent.
    const { rows } = await pool.query<{ id: string }>(
      "INSERT INTO taskd.tasks (id, handler, input, timeout_ms) VALUES (gen_random_uuid(), 'polled', 'x', 1000) RETURNING id",
    );
    await waitFor('completion', async () => (await row(rows[0]!.id))?.state === 'completed', {
      timeoutMs: 5000,
    });
  });

  test('claims never exceed free slots', async () => {
    const g = gate();
    await startEngine(new HandlerRegistry().register('gated-slots', g.handler), { concurrency: 5 });
    await insert(30, 'gated-slots');
    await waitFor('five running', () => g.waiting.length === 5);
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM taskd.tasks WHERE handler = 'gated-slots' AND state = 'running'",
    );
    assert.equal(rows[0]?.n, 5);
    g.waiting.splice(0, 2).forEach((release) => release());
    await waitFor('two more started', () => g.waiting.length === 5);
    g.waiting.splice(0).forEach((release) => release());
  });

  test('the next task starts while the last outcome is being written, one handler at a time still', async () => {
    const g = gate();
    await startEngine(new HandlerRegistry().register('gated-store', g.handler), {
      concurrency: 1,
      pollIntervalMs: 60_000,
    });
    const [first] = await insert(1, 'gated-store');
    await waitFor('the first running', () => g.waiting.length === 1);
    const [second, third] = await insert(2, 'gated-store');
    // The first task's row is locked by the test: its outcome cannot be written until the lock goes.
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM taskd.tasks WHERE id = $1 FOR UPDATE', [first]);
      g.waiting.splice(0).forEach((release) => release());
      await waitFor('the second started', () => g.waiting.length === 1);
      const states = async () =>
        Promise.all([first!, second!, third!].map(async (id) => (await row(id))?.state));
      assert.deepEqual(await states(), ['running', 'running', 'queued']);
      await locker.query('COMMIT');
      await waitFor('the first completed', async () => (await row(first!))?.state === 'completed');
      // One handler at a time still: the third waits for the second's.
      assert.equal((await row(third!))?.state, 'queued');
      g.waiting.splice(0).forEach((release) => release());
      await waitFor('the third started', () => g.waiting.length === 1);
      g.waiting.splice(0).forEach((release) => release());
      await waitFor('all completed', async () => (await row(third!))?.state === 'completed');
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      locker.release();
    }
  });

  test('10,000 running tasks are kept alive by one heartbeat statement per interval', async () => {
    const g = gate();
    const counts = countStatements(pool);
    const engine = await startEngine(new HandlerRegistry().register('gated-many', g.handler), {
      concurrency: 10_000,
      leaseMs: 1000,
    });
    let heartbeats = 0;
    engine.bus.on('worker.heartbeat', () => heartbeats++);
    await insert(10_000, 'gated-many');
    await waitFor('all running', () => g.waiting.length === 10_000, { timeoutMs: 30_000 });
    const before = new Map(counts);
    const heartbeatsBefore = heartbeats;
    const t0 = Date.now();
    // Observe three lease lengths of steady state.
    await waitFor('three lease lengths', () => Date.now() - t0 >= 3000, { timeoutMs: 5000 });
    const during = (name: string) => (counts.get(name) ?? 0) - (before.get(name) ?? 0);
    // 3 s / (1000 ms / 3 per heartbeat) ≈ 9, whatever the number of tasks (each one statement, on the lifeline).
    const beats = heartbeats - heartbeatsBefore;
    assert.ok(beats >= 6 && beats <= 11, `heartbeats: ${beats}`);
    // Everything the pool ran meanwhile (reaper ticks; claims and settles are unnamed): a handful per interval,
    // where any per-task statement would make it thousands.
    const total = [...counts.keys()].reduce((sum, name) => sum + during(name), 0);
    assert.ok(total <= 60, `statements while 10,000 tasks ran: ${total}`);
    const { rows } = await pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM taskd.tasks WHERE handler = 'gated-many' AND state = 'running'",
    );
    assert.equal(rows[0]?.n, 10_000, 'no lease expired');
    g.waiting.splice(0).forEach((release) => release());
    await waitFor('all completed', async () => (await taskStates(pool)).running === undefined, {
      timeoutMs: 30_000,
    });
  });
});
