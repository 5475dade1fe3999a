import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, test } from 'node:test';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { TaskStore } from '../../src/db/store.js';
import { MAX_PROGRESS_MESSAGE_LENGTH } from '../../src/engine/progress.js';
import { HandlerRegistry, type Handler } from '../../src/handlers/registry.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { EngineStack, newV1Task } from '../helpers/engine.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('silent');
const INTERVAL_MS = 200;

const v1 = (kind: string) => newV1Task(kind);

/** A promise and the function that resolves it. */
function latch() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('progress reported by handlers', () => {
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
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  async function stack(name: string, handler: Handler) {
    const s = await new EngineStack(pool, db.url, new HandlerRegistry().register(name, handler), log, {
      progressIntervalMs: INTERVAL_MS,
    }).start();
    stacks.push(s);
    return s;
  }

  /** How many progress writes touched `taskId`, and how many were fenced off, as the engine reports them. */
  function countWrites(s: EngineStack, taskId: string) {
    const seen = { written: 0, fenced: 0 };
    s.bus.on('task.progress', (p) => {
      if (p.taskIds.includes(taskId)) seen.written++;
      seen.fenced += p.fenced;
    });
    return seen;
  }

  test('a handler reporting 1000 times in a second costs a few writes per interval; its last value is kept', async () => {
    const task = v1('chatty');
    let elapsedMs = 0;
    const s = await stack('chatty', async (_input, ctx) => {
      const start = performance.now();
      for (let i = 1; i <= 1000; i++) {
        ctx.progress(i / 10, `step ${i}`);
        // Spreads the reports over about a second, as a busy handler would.
        if (i % 2 === 0) await sleep(1);
      }
      elapsedMs = performance.now() - start;
      return 'done';
    });
    const writes = countWrites(s, task.id);
    const finished = s.bus.next('task.finished', (p) => p.taskId === task.id);
    await store.taskInsertManyV1([task]);
    await finished;

    const intervals = Math.ceil(elapsedMs / INTERVAL_MS);
    assert.ok(writes.written >= 1, 'progress was written');
    // One write per interval, the first at once, and the last value when the run ends: about one per interval.
    assert.ok(
      writes.written <= 2 * intervals,
      `${writes.written} writes for 1000 reports over ${intervals} intervals`,
    );
    const record = (await store.taskGetRecord(task.id))!;
    assert.equal(record.state, 'completed');
    assert.equal(record.progress?.percent, 100);
    assert.equal(record.progress?.message, 'step 1000');
    assert.match(record.progress.updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  test("a lost run's progress is not written: the write is fenced by owner, attempt and state", async () => {
    const task = v1('lost');
    const stolen = latch();
    const s = await stack('lost', async (_input, ctx) => {
      ctx.progress(10, 'before');
      await stolen.opened;
      ctx.progress(90, 'after the run was taken over');
      return 'late';
    });
    const writes = countWrites(s, task.id);
    const firstWrite = s.bus.next('task.progress', (p) => p.taskIds.includes(task.id));
    const discarded = s.bus.next('task.outcome_discarded', (p) => p.taskId === task.id);
    await store.taskInsertManyV1([task]);
    await firstWrite;
    // As if this run had been lost and another had claimed the task since: a new attempt.
    await pool.query('UPDATE taskd.tasks SET attempt = attempt + 1 WHERE id = $1', [task.id]);
    stolen.open();
    assert.equal((await discarded).reason, 'fenced');

    assert.equal(writes.written, 1);
    assert.equal(writes.fenced, 1, "the second report was written for nobody: the run's claim had changed");
    const record = (await store.taskGetRecord(task.id))!;
    assert.equal(record.state, 'running');
    assert.deepEqual(
      { percent: record.progress?.percent, message: record.progress?.message },
      { percent: 10, message: 'before' },
    );
  });

  test('a run that ends while the interval write holds its last value waits for that write, then settles', async () => {
    const task = v1('brief');
    const held = latch();
    const entered = latch();
    const events: string[] = [];
    // The real store, its progress write held at a gate the test opens: the run ends while the write is under
    // way, as a thread handler's last report and its reply do when they arrive in separate turns.
    class HeldProgress extends TaskStore {
      override async taskProgressMany(...args: Parameters<TaskStore['taskProgressMany']>) {
        events.push('progress write begun');
        entered.open();
        await held.opened;
        const written = await super.taskProgressMany(...args);
        events.push('progress written');
        return written;
      }
      override async taskSettleMany(...args: Parameters<TaskStore['taskSettleMany']>) {
        events.push('settle begun');
        held.open(); // On a settle that does not wait, let the held write go too: the test then sees the order.
        return super.taskSettleMany(...args);
      }
    }
    const returned = latch();
    const s = await new EngineStack(
      pool,
      db.url,
      new HandlerRegistry().register('brief', async (_input, ctx) => {
        ctx.progress(40, 'nearly');
        await entered.opened; // the interval write (the first is at once) has taken the value
        returned.open();
        return 'done';
      }),
      log,
      { progressIntervalMs: INTERVAL_MS, store: new HeldProgress(pool) },
    ).start();
    stacks.push(s);
    const finished = s.bus.next('task.finished', (p) => p.taskId === task.id);
    await store.taskInsertManyV1([task]);
    await returned.opened;
    // The run has ended: give a settle that would not wait the time to begin, then let the write go.
    await sleep(100);
    held.open();
    assert.equal((await finished).state, 'completed');

    assert.deepEqual(events, ['progress write begun', 'progress written', 'settle begun']);
    const record = (await store.taskGetRecord(task.id))!;
    assert.equal(record.state, 'completed');
    assert.deepEqual(
      { percent: record.progress?.percent, message: record.progress?.message },
      { percent: 40, message: 'nearly' },
    );
  });

  test('bad progress values are clamped or ignored, never thrown into the handler', async () => {
    const task = v1('odd');
    const s = await stack('odd', (_input, ctx) => {
      const report = ctx.progress as (percent: unknown, message?: unknown) => void;
      report(250, `a\u0000b${'x'.repeat(5000)}`);
      report('half', 'ignored: percent is not a number');
      report(Number.NaN, null);
      report(50, { not: 'a string' });
      return 'fine';
    });
    const finished = s.bus.next('task.finished', (p) => p.taskId === task.id);
    await store.taskInsertManyV1([task]);
    assert.equal((await finished).state, 'completed');
    const record = (await store.taskGetRecord(task.id))!;
    assert.equal(record.result, 'fine');
    assert.equal(record.progress?.percent, 100);
    assert.equal(record.progress?.message, `ab${'x'.repeat(MAX_PROGRESS_MESSAGE_LENGTH - 2)}`);
  });
});

describe('progress on a real server process', () => {
  test('a chatty handler costs a few writes per interval, and the API shows its last value', async () => {
    const db = await createTestDatabase();
    const server = await startServer({
      DATABASE_URL: db.url,
      LOG_LEVEL: 'debug',
      PROGRESS_INTERVAL_MS: String(INTERVAL_MS),
      SIMULATE_MIN_MS: '1000',
      SIMULATE_MAX_MS: '1000',
    });
    try {
      const res = await fetch(`${server.url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'simulate', input: { steps: 1000 } }),
      });
      assert.equal(res.status, 201);
      const { id } = (await res.json()) as { id: string };
      const finished = await server.waitForLog((l) => l.event === 'task.finished' && l.task_id === id);
      assert.equal(finished.status, 'completed');

      const writes = server.logs.filter(
        (l) => l.event === 'task.progress' && (l.task_ids as string[]).includes(id),
      ).length;
      const intervals = Math.ceil((finished.duration_ms as number) / INTERVAL_MS);
      assert.ok(writes >= 1, 'progress was written');
      assert.ok(writes <= 2 * intervals, `${writes} writes for 1000 reports over ${intervals} intervals`);

      const task = await waitFor('the task as the API shows it', async () => {
        const r = await fetch(`${server.url}/v1/tasks/${id}`);
        const body = (await r.json()) as {
          state: string;
          progress: { percent: number; message: string; updated_at: string };
        };
        return body.state === 'completed' && body;
      });
      assert.equal(task.progress.percent, 100);
      assert.equal(task.progress.message, 'step 1000 of 1000');
      assert.equal(typeof task.progress.updated_at, 'string');
    } finally {
      await server.close();
      await db.drop();
    }
  });
});
