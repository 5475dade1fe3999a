import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { CHANNELS, TaskStore } from '../../src/db/store.js';
import { abortReason } from '../../src/engine/abort.js';
import { HandlerRegistry, type Handler } from '../../src/handlers/registry.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { EngineStack, type StackOptions, newV1Task } from '../helpers/engine.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('silent');

const v1 = (kind: string) => newV1Task(kind);

describe('task changes are announced, and the engine notices cancels it was not told of', () => {
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

  test('a batch of 400 runs: every id is announced on its claim and its settle, in payloads NOTIFY accepts', async () => {
    const s = await stack(
      new HandlerRegistry().register('noop', () => null),
      { concurrency: 400 },
    );
    const heard = new Map<string, number>();
    let largest = 0;
    s.notifier.subscribe(CHANNELS.taskChanged, (payload) => {
      largest = Math.max(largest, Buffer.byteLength(payload));
      for (const id of payload.split(',')) heard.set(id, (heard.get(id) ?? 0) + 1);
    });
    const tasks = await store.taskInsertManyV1(Array.from({ length: 400 }, () => v1('noop')));
    await waitFor('every task claimed and settled, and heard twice', () =>
      tasks.every((t) => (heard.get(t.id) ?? 0) >= 2),
    );
    assert.ok(largest < 8000, `largest payload ${largest} bytes`);
  });

  test('a running task cancelled without a notification is aborted by the periodic check', async () => {
    const aborted: unknown[] = [];
    const handler: Handler = (_input, ctx) =>
      new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted.push(abortReason(ctx.signal)?.kind);
          reject(ctx.signal.reason as Error);
        });
      });
    const s = await stack(new HandlerRegistry().register('forever', handler), { cancelCheckMs: 200 });
    const [task] = await store.taskInsertManyV1([v1('forever')]);
    await waitFor('running', async () => (await store.taskGetRecord(task!.id))?.state === 'running');
    const discarded = s.bus.next('task.outcome_discarded', (p) => p.taskId === task!.id);
    // As taskCancel does, minus its notifications: what a process misses while its listener reconnects.
    await pool.query(
      "UPDATE taskd.tasks SET state = 'cancelled', failure = 'cancelled', result = 'cancelled', finished_at = now() WHERE id = $1",
      [task!.id],
    );
    await waitFor('the handler aborted', () => aborted.length > 0, { timeoutMs: 5000 });
    assert.deepEqual(aborted, ['cancelled']);
    assert.equal((await discarded).reason, 'aborted');
    assert.equal((await store.taskGetRecord(task!.id))?.state, 'cancelled');
  });
});
