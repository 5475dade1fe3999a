import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { TaskStore, type SettleRow, type StatementOptions } from '../../src/db/store.js';
import { EventBus, type TaskdEvents } from '../../src/events/bus.js';
import { TaskService } from '../../src/domain/task-service.js';
import { Settler } from '../../src/engine/settler.js';
import { buildServer } from '../../src/http/server.js';
import { HandlerRegistry } from '../../src/handlers/registry.js';
import { createLogger } from '../../src/logger.js';
import { Maintenance } from '../../src/maintenance/maintenance.js';
import { sweepRetention } from '../../src/maintenance/retention.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { EngineStack, insertTasks, taskRow, type StackOptions } from '../helpers/engine.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('silent');

describe('hardened engine, in process, on a real database', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let store: TaskStore;
  const stacks: EngineStack[] = [];

  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 8, applicationName: 'taskd-test' }, log);
    await migrate(pool, log);
    store = new TaskStore(pool);
  });
  afterEach(async () => {
    for (const s of stacks.splice(0)) await s.stop(0);
    await pool.query('DELETE FROM taskd.tasks');
    await pool.query('DELETE FROM taskd.workers');
    await pool.query('DELETE FROM taskd.leader');
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  async function stack(handlers: HandlerRegistry, options: StackOptions = {}, onPool = pool) {
    const s = await new EngineStack(onPool, db.url, handlers, log, options).start();
    stacks.push(s);
    return s;
  }

  const insert = (n: number, handler: string, timeoutMs = 60_000) =>
    insertTasks(store, n, handler, timeoutMs);
  const row = (id: string) => taskRow(pool, id);

  function collect<E extends keyof TaskdEvents>(s: EngineStack, event: E): TaskdEvents[E][] {
    const seen: TaskdEvents[E][] = [];
    s.bus.on(event, (p) => seen.push(p));
    return seen;
  }

  test('the lease holds while every pooled connection is busy with slow statements', async () => {
    // A pool of its own, so that saturating it cannot slow the test's own queries.
    const busyPool = createPool(
      { connectionString: db.url, max: 8, applicationName: 'taskd-test-busy' },
      log,
    );
    try {
      const s = await stack(new HandlerRegistry(), { leaseMs: 1500 }, busyPool);
      const beats: unknown[] = collect(s, 'worker.heartbeat');
      // Longer than the lease: a heartbeat that needed a pooled connection would wait 3 s and fail.
      const slow = Array.from({ length: 8 }, () => busyPool.query('SELECT pg_sleep(4)'));
      await waitFor('the pool saturated', async () => {
        const { rows } = await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'taskd-test-busy' AND query LIKE '%pg_sleep%' AND state = 'active'",
        );
        return rows[0]!.n === 8;
      });
      const beatsBefore = beats.length;
      // Another process's reaper, twice a lease into the saturation, finds nothing to reap.
      await waitFor('two leases of heartbeats', () => beats.length - beatsBefore >= 4, { timeoutMs: 3500 });
      const reaped = await store.workerReapExpired(randomUUID(), {
        failure: 'worker_lost',
        result: 'lost',
        retry: 'later',
        backoff: { baseMs: 1000, maxMs: 60_000 },
      });
      assert.deepEqual(reaped.workers, []);
      const { rows } = await pool.query<{ live: boolean }>(
        'SELECT expires_at > now() AS live FROM taskd.workers WHERE id = $1',
        [s.workerId],
      );
      assert.equal(rows[0]?.live, true);
      await Promise.all(slow);
    } finally {
      for (const s of stacks.splice(0)) await s.stop(0);
      await busyPool.end();
    }
  });

  test('one leader runs maintenance; when it stops, another takes over', async () => {
    const runs = new Map<string, number>();
    const a = await stack(new HandlerRegistry(), { leaseMs: 1000, maintenance: false });
    const b = await stack(new HandlerRegistry(), { leaseMs: 1000, maintenance: false });
    const jobsOf = (s: EngineStack) =>
      new Maintenance(s.heartbeat, s.bus, [
        {
          name: 'count',
          everyMs: 50,
          firstAfterMs: 0,
          run: () => {
            runs.set(s.workerId, (runs.get(s.workerId) ?? 0) + 1);
            return Promise.resolve();
          },
        },
      ]);
    const ma = jobsOf(a);
    const mb = jobsOf(b);
    ma.start();
    mb.start();
    try {
      await waitFor('a leader', () => a.heartbeat.isLeader || b.heartbeat.isLeader);
      const [leader, follower] = a.heartbeat.isLeader ? [a, b] : [b, a];
      await waitFor('jobs run', () => (runs.get(leader.workerId) ?? 0) >= 5);
      assert.equal(follower.heartbeat.isLeader, false);
      assert.equal(runs.get(follower.workerId), undefined, 'the follower runs no maintenance');
      const { rows } = await pool.query<{ worker_id: string }>('SELECT worker_id FROM taskd.leader');
      assert.deepEqual(rows, [{ worker_id: leader.workerId }]);

      // A graceful stop hands the leadership over at once (its deregistration deletes the row).
      await (leader === a ? ma : mb).stop();
      await leader.stop(0);
      stacks.splice(stacks.indexOf(leader), 1);
      await waitFor('the follower elected', () => follower.heartbeat.isLeader, { timeoutMs: 3000 });
      await waitFor('its jobs run', () => (runs.get(follower.workerId) ?? 0) >= 3);
    } finally {
      await ma.stop();
      await mb.stop();
    }
  });

  test('a leader that stops heartbeating (killed, stalled) is replaced once its lease runs out', async () => {
    const a = await stack(new HandlerRegistry(), { leaseMs: 1000 });
    await waitFor('a leads', () => a.heartbeat.isLeader);
    const b = await stack(new HandlerRegistry(), { leaseMs: 1000 });
    // a goes silent without deregistering: what a kill -9 or a SIGSTOP leaves behind.
    await a.heartbeat['periodic'].stop();
    const elected = b.bus.next('leader.elected');
    await elected;
    assert.equal(b.heartbeat.isLeader, true);
    assert.equal(a.heartbeat.isLeader, false, 'a stops believing it leads once its own lease is over');
    // b's reaper (as leader) removes a's expired registration.
    await waitFor('a reaped', async () => {
      const { rows } = await pool.query('SELECT 1 FROM taskd.workers WHERE id = $1', [a.workerId]);
      return rows.length === 0;
    });
  });

  test('stopping maintenance aborts a retention sweep stuck behind a lock', async () => {
    await pool.query(`
      INSERT INTO taskd.tasks (id, handler, input, timeout_ms, state, result, attempt, owner, started_at, finished_at)
      SELECT gen_random_uuid(), 'noop', 'x', 1000, 'completed', 'ok', 1, gen_random_uuid(),
             now() - interval '9 days', now() - interval '9 days' FROM generate_series(1, 10)`);
    const s = await stack(new HandlerRegistry(), { leaseMs: 1000, maintenance: false });
    await waitFor('leader', () => s.heartbeat.isLeader);
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE taskd.tasks IN ACCESS EXCLUSIVE MODE');
      let sweeping!: () => void;
      const started = new Promise<void>((r) => (sweeping = r));
      const maintenance = new Maintenance(s.heartbeat, s.bus, [
        {
          name: 'retention',
          everyMs: 60_000,
          firstAfterMs: 0,
          run: (signal) => {
            sweeping();
            return sweepRetention(s.store, 7 * 86_400_000, s.bus, signal);
          },
        },
      ]);
      maintenance.start();
      await started;
      await waitFor('the sweep waits for the lock', async () => {
        const { rows } = await pool.query<{ n: number }>(
          // Whichever of its statements it is at (listing the partitions, or deleting): it waits for the lock.
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND (query LIKE '%taskd.task_partitions()%' OR query LIKE '%taskd.delete_finished_tasks%')",
        );
        return rows[0]!.n === 1;
      });
      // Resolves while the lock is still held: the sweep's statement is given up, not waited for.
      await maintenance.stop();
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
  });

  test('a claim loop that crashes is restarted, and readiness says so meanwhile', async () => {
    let failures = 2;
    class FaultyStore extends TaskStore {
      override taskClaimAvailable(owner: string, limit: number, options?: StatementOptions) {
        if (failures-- > 0) return Promise.reject(new TypeError('a bug in the claim path'));
        return super.taskClaimAvailable(owner, limit, options);
      }
    }
    const s = new EngineStack(
      pool,
      db.url,
      new HandlerRegistry().register('ok', () => 'done'),
      log,
      {
        store: new FaultyStore(pool),
      },
    );
    const crashes = collect(s, 'engine.crashed');
    const healthAtCrash: boolean[] = [];
    s.bus.on('engine.crashed', () => healthAtCrash.push(s.engine.healthy));
    await s.start();
    stacks.push(s);
    await waitFor('two crashes', () => crashes.length === 2);
    assert.equal(crashes[0]!.component, 'claim loop');
    assert.equal(crashes[1]!.giveUp, false);
    assert.deepEqual(healthAtCrash, [false, false], 'not healthy while the loop is down');
    const [id] = await insert(1, 'ok');
    await waitFor('the restarted loop runs tasks', async () => (await row(id!))?.state === 'completed');
    assert.equal(s.engine.healthy, true);
    assert.deepEqual(s.fatal, []);
  });

  test('a claim loop that keeps crashing gives up: the engine is unhealthy and the process is told to stop', async () => {
    class BrokenStore extends TaskStore {
      override taskClaimAvailable(): never {
        throw new TypeError('always broken');
      }
    }
    const s = await stack(new HandlerRegistry(), { store: new BrokenStore(pool) });
    await waitFor('given up', () => s.fatal.length === 1, { timeoutMs: 20_000 });
    assert.equal(s.engine.healthy, false);
    // Readiness says so: an orchestrator stops sending traffic (and the process is stopping anyway).
    const service = new TaskService(store, s.bus, {
      defaultHandler: 'noop',
      defaultTimeoutMs: 1000,
      maxTaskLength: 10,
    });
    service.addReadinessCheck(() => (s.engine.healthy ? undefined : 'the task engine is not running'));
    const app = await buildServer({ service, log, bodyLimitBytes: 1 << 20 });
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json(), {
        error: 'Service unavailable: not ready',
        detail: 'the task engine is not running',
      });
    } finally {
      await app.close();
    }
  });

  test('a handler may return a plain value or throw before returning a promise', async () => {
    const s = await stack(
      new HandlerRegistry()
        .register('plain', () => 'plain value')
        .register('object', () => ({ n: 1 }))
        .register('sync-throw', () => {
          throw new Error('thrown at once');
        }),
    );
    void s;
    const [plain] = await insert(1, 'plain');
    const [object] = await insert(1, 'object');
    const [thrower] = await insert(1, 'sync-throw');
    await waitFor('all ended', async () =>
      (await Promise.all([plain, object, thrower].map((id) => row(id!)))).every(
        (r) => r?.state !== 'queued' && r?.state !== 'running',
      ),
    );
    assert.deepEqual(await row(plain!), { state: 'completed', failure: null, result: 'plain value' });
    assert.deepEqual(await row(object!), { state: 'completed', failure: null, result: '{"n":1}' });
    assert.deepEqual(await row(thrower!), { state: 'failed', failure: 'error', result: 'thrown at once' });
  });

  test('a result larger than MAX_RESULT_BYTES fails its task with a message saying so', async () => {
    await stack(
      new HandlerRegistry().register('big', () => 'é'.repeat(1000)),
      { maxResultBytes: 1024 },
    );
    const [id] = await insert(1, 'big');
    await waitFor('ended', async () => (await row(id!))?.state === 'failed');
    assert.deepEqual(await row(id!), {
      state: 'failed',
      failure: 'error',
      result: 'failed: the result is 2000 bytes, more than MAX_RESULT_BYTES (1024)',
    });
  });

  test('a handler that ignores its signal keeps its slot until it returns, and is reported as stuck', async () => {
    let release!: () => void;
    const returned = new Promise<void>((r) => (release = r));
    const s = await stack(
      new HandlerRegistry()
        .register('stubborn', () => returned.then(() => 'late'))
        .register('next', () => 'ran'),
      { concurrency: 1 },
    );
    const stuck = collect(s, 'handler.stuck');
    const [stubborn] = await insert(1, 'stubborn', 100);
    await waitFor('timed out', async () => (await row(stubborn!))?.state === 'failed');
    const [next] = await insert(1, 'next');
    await waitFor('reported stuck', () => stuck.length === 1);
    assert.deepEqual(s.engine.load, { running: 0, stuck: 1, free: 0 });
    assert.equal((await row(next!))?.state, 'queued', 'its slot is not given to another task');
    release();
    await waitFor('the next task ran', async () => (await row(next!))?.state === 'completed');
    assert.deepEqual(await row(stubborn!), {
      state: 'failed',
      failure: 'timeout',
      result: 'task timed out after 100 ms',
    });
  });

  test('stop is bounded even while a claim waits on a lock, and leaves no timer behind', async () => {
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const s = new EngineStack(pool, db.url, new HandlerRegistry(), log, { pollIntervalMs: 50 });
    const started = collect(s, 'engine.started');
    await s.start();
    s.engine.start();
    assert.equal(started.length, 1, 'a second start starts nothing');
    const locker = await pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE taskd.tasks IN ACCESS EXCLUSIVE MODE');
      await waitFor('a claim waits for the lock', async () => {
        const { rows } = await pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%UPDATE taskd.tasks t%'",
        );
        return rows[0]!.n >= 1;
      });
      // The claim is given up; deregistering (which also needs the table) is bounded too. Both while the lock
      // is still held: a stop that waited for either would hang here.
      await s.engine.stop(100);
    } finally {
      await locker.query('ROLLBACK');
      locker.release();
    }
    await s.stop(0);
    await s.engine.stop(0);
    await waitFor(
      'no timer left',
      () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length <= timersBefore,
    );
  });
});

describe('settler', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 4, applicationName: 'taskd-test' }, log);
    await migrate(pool, log);
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  test('one row the database rejects does not fail its batch: the others are written, it is isolated', async () => {
    const store = new TaskStore(pool);
    const owner = randomUUID();
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await pool.query(
      `INSERT INTO taskd.tasks (id, handler, input, timeout_ms, state, owner, attempt, started_at)
       SELECT id, 'noop', 'x', 1000, 'running', $2, 1, now() FROM unnest($1::uuid[]) id`,
      [ids, owner],
    );
    const bus = new EventBus();
    const rejected: unknown[] = [];
    bus.on('settle.rejected', (e) => rejected.push(e));
    const settler = new Settler(store, bus);
    const rows: SettleRow[] = ids.map((id) => ({
      id,
      owner,
      attempt: 1,
      decision: { state: 'completed', result: `done ${id}` },
    }));
    // An attempt number no integer column holds: the database rejects the whole statement for this one row.
    rows[2] = { ...rows[2]!, attempt: 2 ** 31 };
    const results = await Promise.all(rows.map((r) => settler.settle(r)));
    assert.deepEqual(results, ['written', 'written', 'unwritable', 'written', 'written']);
    assert.ok(rejected.length >= 1);
    const { rows: states } = await pool.query<{ id: string; state: string }>(
      'SELECT id, state::text FROM taskd.tasks WHERE id = ANY($1::uuid[])',
      [ids],
    );
    const byId = new Map(states.map((r) => [r.id, r.state]));
    assert.deepEqual(
      ids.map((id) => byId.get(id)),
      ['completed', 'completed', 'running', 'completed', 'completed'],
    );
  });
});
