import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadMigrations, migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { statementText, TaskStore, type NewTaskV1, type StatementName } from '../../src/db/store.js';
import { newTaskId } from '../../src/domain/task-id.js';
import { EventBus } from '../../src/events/bus.js';
import { createLogger } from '../../src/logger.js';
import { ensurePartitions } from '../../src/maintenance/partitions.js';
import { sweepRetention } from '../../src/maintenance/retention.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { newV1Task } from '../helpers/engine.js';
import { waitFor } from '../helpers/wait.js';

const log = createLogger('silent');
const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

const cleanups: (() => Promise<void>)[] = [];

interface PlanNode {
  'Relation Name'?: string;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function migrated(): Promise<{ db: TestDatabase; pool: pg.Pool; store: TaskStore }> {
  const db = await createTestDatabase();
  const pool = createPool({ connectionString: db.url, max: 4, applicationName: 'taskd-test' }, log);
  cleanups.push(async () => {
    await pool.end();
    await db.drop();
  });
  await migrate(pool, log);
  const store = new TaskStore(pool);
  // As every process does at its start, with the default range (a day).
  await ensurePartitions(store, { stepMs: DAY_MS }, new EventBus());
  return { db, pool, store };
}

const v1Task = (id: string, fields: Partial<NewTaskV1> = {}) => newV1Task('noop', { id, ...fields });

/** Which partition holds each task. */
async function partitionOf(pool: pg.Pool, ids: string[]): Promise<Record<string, string>> {
  const { rows } = await pool.query<{ id: string; part: string }>(
    `SELECT id, tableoid::regclass::text AS part FROM taskd.tasks WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.id, r.part.replace(/^taskd\./, '')]));
}

/** Ends tasks as a run would, `agoMs` before now. */
async function finish(pool: pg.Pool, ids: string[], agoMs: number): Promise<void> {
  await pool.query(
    `UPDATE taskd.tasks SET state = 'completed', attempt = 1, owner = NULL,
            started_at = now() - $2 * interval '1 millisecond', finished_at = now() - $2 * interval '1 millisecond'
     WHERE id = ANY($1::uuid[])`,
    [ids, agoMs],
  );
}

describe('partitions of the task table', () => {
  test('a fresh database has time partitions around now, the old tasks one and a default; new tasks go by the time in their id', async () => {
    const { pool, store } = await migrated();
    const parts = await store.taskPartitions(WEEK_MS);
    assert.deepEqual(
      parts.filter((p) => p.lower_bound === null).map((p) => p.name),
      ['tasks_legacy', 'tasks_default'],
    );
    const timed = parts.filter((p) => p.lower_bound !== null);
    assert.ok(timed.length >= 3, `time partitions: ${timed.map((p) => p.name).join(', ')}`);
    const now = Date.now();
    assert.ok(Date.parse(timed[0]!.lower_bound!) <= now - DAY_MS + 1000);
    assert.ok(Date.parse(timed.at(-1)!.upper_bound!) >= now + 2 * DAY_MS - 1000);

    const id = newTaskId();
    const old = randomUUID();
    await store.taskInsertManyV1([v1Task(id)]);
    await store.taskInsertMany([{ id: old, handler: 'noop', input: 'x', timeoutMs: 1000 }]);
    const where = await partitionOf(pool, [id, old]);
    const mine = timed.find((p) => Date.parse(p.lower_bound!) <= now && now < Date.parse(p.upper_bound!))!;
    assert.equal(where[id], mine.name);
    // An id without a time (as every id before time-ordered ids) belongs with the old tasks.
    assert.equal(where[old], 'tasks_legacy');
    assert.equal((await store.taskGetRecord(id))?.id, id);
    assert.equal((await store.taskGet(old))?.id, old);
  });

  test('a read by id and a settle touch only the partition of their tasks', async () => {
    const { pool, store } = await migrated();
    const now = Date.now();
    // Tasks in three partitions (yesterday, today, tomorrow's time), one of them running under a worker.
    const ids = [now - DAY_MS, now, now + DAY_MS].map((t) => newTaskId(t));
    await store.taskInsertManyV1(ids.map((id) => v1Task(id)));
    const owner = randomUUID();
    await pool.query(
      `UPDATE taskd.tasks SET state = 'running', owner = $2, attempt = 1, started_at = now() WHERE id = $1`,
      [ids[1], owner],
    );
    const part = (await partitionOf(pool, [ids[1]!]))[ids[1]!]!;
    const partitions = (await store.taskPartitions(WEEK_MS)).length;
    assert.ok(partitions >= 6, `${partitions} partitions`);

    /** The partitions a statement read (scan nodes that ran at least once), from EXPLAIN ANALYZE. */
    const scanned = async (name: StatementName, values: unknown[]) => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${statementText(name)}`,
          values,
        );
        const read = new Set<string>();
        const walk = (n: PlanNode) => {
          if (n['Relation Name']?.startsWith('tasks_') && (n['Actual Loops'] ?? 0) > 0)
            read.add(n['Relation Name']);
          n.Plans?.forEach(walk);
        };
        walk(rows[0]!['QUERY PLAN'][0].Plan);
        return [...read];
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    };
    assert.deepEqual(await scanned('taskGetRecord', [ids[1]]), [part]);
    const settle = [[ids[1]], [owner], [1], ['completed'], [null], ['ok'], [null], [0]];
    assert.deepEqual(await scanned('taskSettleMany', settle), [part]);
  });

  test('a task whose time has no partition is kept in the default one, and moves out when its partition is made', async () => {
    const { pool, store } = await migrated();
    const id = newTaskId(Date.now() + 30 * DAY_MS);
    await store.taskInsertManyV1([v1Task(id, { idempotencyKey: 'far-ahead' })]);
    assert.equal((await partitionOf(pool, [id]))[id], 'tasks_default');

    // Two processes at once: the database takes them in turn, and the second finds nothing left to make.
    const made = await Promise.all([
      store.taskPartitionsEnsure(DAY_MS, DAY_MS, 31 * DAY_MS),
      store.taskPartitionsEnsure(DAY_MS, DAY_MS, 31 * DAY_MS),
    ]);
    assert.ok(made[0] + made[1] >= 28 && Math.min(...made) === 0, `made ${made.join(' and ')}`);
    const part = (await partitionOf(pool, [id]))[id]!;
    assert.match(part, /^tasks_\d{8}t\d{6}$/);
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM taskd.tasks_default');
    assert.equal(rows[0]!.n, 0);
    const record = await store.taskGetRecord(id);
    assert.equal(record?.state, 'queued');
    assert.equal((await store.taskGetByIdempotencyKey('far-ahead'))?.id, id);
  });

  test('a read that comes while tasks move out of the default partition waits for the move and finds them', async () => {
    const { db, pool, store } = await migrated();
    const ids = [newTaskId(Date.now() + 30 * DAY_MS), newTaskId(Date.now() + 30 * DAY_MS + 1)];
    await store.taskInsertManyV1(ids.map((id) => v1Task(id)));
    const mover = await pool.connect();
    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    try {
      // The move done but not committed: it holds its locks until COMMIT.
      await mover.query('BEGIN');
      await mover.query(`SELECT taskd.ensure_task_partitions('1 day', '1 day', '31 days')`);
      const read = reader.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM taskd.tasks WHERE id = ANY($1::uuid[])',
        [ids],
      );
      await waitFor('the read waits for a lock', async () => {
        const { rows } = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%ANY($1::uuid[])%'`,
        );
        return rows[0]!.n === 1 ? true : undefined;
      });
      await mover.query('COMMIT');
      // Waiting on the default partition alone, it would have planned without the new partition and then read
      // the default one emptied: 0.
      assert.equal((await read).rows[0]?.n, 2);
    } finally {
      await mover.query('ROLLBACK').catch(() => {});
      mover.release();
      await reader.end();
    }
    assert.match((await partitionOf(pool, ids))[ids[0]!]!, /^tasks_\d{8}t\d{6}$/);
  });

  test('making partitions that waits over 2 s for its lock gives up for now, and a task meanwhile waits in the default partition', async () => {
    const { pool, store } = await migrated();
    for (const p of await store.taskPartitions(WEEK_MS)) {
      if (p.lower_bound !== null) await pool.query(`DROP TABLE taskd.${p.name}`);
    }
    const holder = await pool.connect();
    const bus = new EventBus();
    const id = newTaskId();
    const deferred: unknown[] = [];
    bus.on('partitions.deferred', (e) => deferred.push(e));
    try {
      await holder.query('BEGIN');
      // What a long statement on the table holds against ATTACH PARTITION (VACUUM, an index build, another DDL).
      await holder.query('LOCK TABLE taskd.tasks IN SHARE UPDATE EXCLUSIVE MODE');
      const started = Date.now();
      assert.equal(await ensurePartitions(store, { stepMs: 60_000 }, bus), 0);
      assert.ok(Date.now() - started >= 1900, `gave up after ${Date.now() - started} ms`);
      assert.deepEqual(deferred, [{}]);
      // Creates go on meanwhile.
      await store.taskInsertManyV1([v1Task(id)]);
      assert.equal((await partitionOf(pool, [id]))[id], 'tasks_default');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    assert.ok((await ensurePartitions(store, { stepMs: 60_000 }, bus)) >= 3);
    assert.match((await partitionOf(pool, [id]))[id]!, /^tasks_\d{8}t\d{6}$/);
    assert.equal((await store.taskGetRecord(id))?.id, id);
  });

  test('retention drops a partition whose tasks all ended before the age, with their keys and deliveries, and deletes rows only where it cannot', async () => {
    const { pool, store } = await migrated();
    // Daily partitions from twelve days back (the migration's ones, empty, make way).
    for (const p of await store.taskPartitions(WEEK_MS)) {
      if (p.lower_bound !== null) await pool.query(`DROP TABLE taskd.${p.name}`);
    }
    await store.taskPartitionsEnsure(DAY_MS, 12 * DAY_MS, DAY_MS);
    const now = Date.now();
    const at = (daysAgo: number, n: number) =>
      Array.from({ length: n }, () => newTaskId(now - daysAgo * DAY_MS));

    const gone = at(9.5, 50); // every one ended 8 days ago: its partition goes whole
    const recent = at(11.5, 5); // ended yesterday: kept, whatever its partition's age
    const straggler = at(8.5, 1); // still queued: its partition stays
    const oldEnded = at(8.5, 3); // ended 8 days ago, beside it: deleted one by one
    const current = at(0, 5);
    const legacy = randomUUID();
    const keyed = (ids: string[], prefix: string) =>
      ids.map((id, i) =>
        v1Task(id, { idempotencyKey: `${prefix}-${i}`, callbackUrl: 'http://127.0.0.1:9/hook' }),
      );
    await store.taskInsertManyV1([
      ...keyed(gone, 'gone'),
      ...keyed(recent, 'recent'),
      ...keyed(straggler, 'straggler'),
      ...keyed(oldEnded, 'old-ended'),
      ...keyed(current, 'current'),
    ]);
    await store.taskInsertMany([{ id: legacy, handler: 'noop', input: 'x', timeoutMs: 1000 }]);
    await finish(pool, [...gone, ...oldEnded, legacy], 8 * DAY_MS);
    await finish(pool, recent, DAY_MS);
    // Their completion webhooks, as the outbox writes them.
    await pool.query(
      `INSERT INTO taskd.webhook_deliveries (id, task_id, event, url, payload)
       SELECT gen_random_uuid(), id, 'task.completed', 'http://127.0.0.1:9/hook', '{}'
       FROM taskd.tasks WHERE state = 'completed'`,
    );
    const where = await partitionOf(pool, [...gone, ...recent, ...straggler]);
    const dropped = where[gone[0]!]!;
    assert.ok(gone.every((id) => where[id] === dropped));
    assert.notEqual(where[straggler[0]!], dropped);

    const bus = new EventBus();
    const events: unknown[] = [];
    bus.on('retention.dropped', (e) => events.push(e));
    const sweep = await sweepRetention(store, WEEK_MS, bus, new AbortController().signal);
    // Dropped: that partition, and the empty ones as old; not those of the task ended yesterday or still queued.
    const expired = (await store.taskPartitions(0))
      .filter((p) => p.lower_bound !== null && Date.parse(p.upper_bound!) <= now - WEEK_MS)
      .map((p) => p.name);
    assert.ok(sweep.dropped.includes(dropped));
    assert.deepEqual(
      expired.sort(),
      [where[recent[0]!]!, where[straggler[0]!]!].sort(),
      'what is left of the expired partitions',
    );
    assert.equal(sweep.deleted, 4);
    assert.deepEqual(events, [{ partitions: sweep.dropped, maxAgeMs: WEEK_MS }]);

    const { rows: left } = await pool.query<{ id: string }>('SELECT id FROM taskd.tasks');
    assert.deepEqual(left.map((r) => r.id).sort(), [...recent, ...straggler, ...current].sort());
    const { rows: table } = await pool.query<{ t: string | null }>(
      `SELECT to_regclass('taskd.${dropped}')::text AS t`,
    );
    assert.equal(table[0]!.t, null);
    const { rows: keys } = await pool.query<{ key: string }>(
      'SELECT key FROM taskd.idempotency_keys ORDER BY key',
    );
    assert.deepEqual(
      keys.map((k) => k.key.replace(/-\d+$/, '')),
      [...current.map(() => 'current'), ...recent.map(() => 'recent'), 'straggler'],
    );
    const { rows: deliveries } = await pool.query<{ task_id: string }>(
      'SELECT task_id FROM taskd.webhook_deliveries',
    );
    assert.deepEqual(deliveries.map((d) => d.task_id).sort(), [...recent].sort());
    // A key whose task is gone is free again; one whose task stays is not.
    await store.taskInsertManyV1([v1Task(newTaskId(), { idempotencyKey: 'gone-0' })]);
    await assert.rejects(store.taskInsertManyV1([v1Task(newTaskId(), { idempotencyKey: 'recent-0' })]), {
      code: '23505',
    });

    // Nothing more to do at once.
    assert.deepEqual(await sweepRetention(store, WEEK_MS, bus, new AbortController().signal), {
      dropped: [],
      deleted: 0,
    });
  });

  test('a task retried by hand keeps its partition from being dropped', async () => {
    const { pool, store } = await migrated();
    for (const p of await store.taskPartitions(WEEK_MS)) {
      if (p.lower_bound !== null) await pool.query(`DROP TABLE taskd.${p.name}`);
    }
    await store.taskPartitionsEnsure(DAY_MS, 12 * DAY_MS, DAY_MS);
    const id = newTaskId(Date.now() - 9.5 * DAY_MS);
    await store.taskInsertManyV1([v1Task(id)]);
    await pool.query(
      `UPDATE taskd.tasks SET state = 'failed', failure = 'error', result = 'boom', attempt = 1,
              started_at = now() - interval '8 days', finished_at = now() - interval '8 days'
       WHERE id = $1`,
      [id],
    );
    assert.equal((await store.taskRetry(id))?.state, 'queued');
    const part = (await partitionOf(pool, [id]))[id]!;
    const sweep = await sweepRetention(store, WEEK_MS, new EventBus(), new AbortController().signal);
    assert.ok(!sweep.dropped.includes(part));
    assert.equal(sweep.deleted, 0);
    assert.equal((await store.taskGetRecord(id))?.state, 'queued');
  });
});

describe('migrating a task table of an earlier version in place', () => {
  test('the old table becomes a partition as it is: no row rewritten, no index rebuilt, every task, key and delivery kept', async () => {
    const db = await createTestDatabase();
    const pool = createPool({ connectionString: db.url, max: 4, applicationName: 'taskd-test' }, log);
    const dir = await mkdtemp(path.join(tmpdir(), 'taskd-migrations-'));
    cleanups.push(async () => {
      await pool.end();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    });
    // The schema as version 10 left it, and tasks of that version: the original API's, v1's with a key and a
    // webhook, finished and queued ones.
    const dirUrl = pathToFileURL(dir + path.sep);
    await cp(MIGRATIONS_DIR, dirUrl, { recursive: true });
    for (const m of await loadMigrations()) {
      if (m.version > 10) await unlink(new URL(m.name, dirUrl));
    }
    await migrate(pool, log, dirUrl);
    await pool.query(`
      INSERT INTO taskd.tasks (id, handler, input, timeout_ms)
      SELECT gen_random_uuid(), 'noop', 'original ' || i, 1000 FROM generate_series(1, 200) i`);
    await pool.query(`
      INSERT INTO taskd.tasks (id, handler, payload, timeout_ms, idempotency_key, request_fingerprint,
                               callback_url, state, attempt, started_at, finished_at, result, output)
      SELECT gen_random_uuid(), 'noop', jsonb_build_object('i', i), 1000, 'key-' || i, 'fp', 'http://x/hook',
             'completed', 1, now(), now(), '', '"done"'
      FROM generate_series(1, 100) i`);
    await pool.query(`
      INSERT INTO taskd.webhook_deliveries (id, task_id, event, url, payload)
      SELECT gen_random_uuid(), id, 'task.completed', callback_url, '{}' FROM taskd.tasks
      WHERE callback_url IS NOT NULL`);
    const files = async () =>
      (
        await pool.query<{ name: string; node: string }>(`
          SELECT c.relname AS name, c.relfilenode::text AS node FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'taskd' AND (c.oid = 'taskd.tasks'::regclass
            OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'taskd.tasks'::regclass))`)
      ).rows;
    const before = await files();
    const { rows: seqBefore } = await pool.query<{ max: string }>(
      'SELECT max(seq)::text AS max FROM taskd.tasks',
    );
    const sample = (
      await pool.query<{ id: string; input: string }>(
        `SELECT id, input FROM taskd.tasks WHERE input = 'original 7'`,
      )
    ).rows[0]!;

    await migrate(pool, log);
    const store = new TaskStore(pool);
    await ensurePartitions(store, { stepMs: DAY_MS }, new EventBus());

    const { rows: kind } = await pool.query<{ relkind: string }>(
      `SELECT relkind FROM pg_class WHERE oid = 'taskd.tasks'::regclass`,
    );
    assert.equal(kind[0]!.relkind, 'p');
    // The same files on disk: the table was neither copied nor rewritten, and of its indexes only the unique
    // one on the idempotency key is gone (the keys have a table of their own now).
    const { rows: after } = await pool.query<{ node: string }>(`
      SELECT c.relfilenode::text AS node FROM pg_class c
      WHERE c.oid = 'taskd.tasks_legacy'::regclass
         OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'taskd.tasks_legacy'::regclass)`);
    const kept = new Set(after.map((r) => r.node));
    const gone = before.filter((f) => !kept.has(f.node)).map((f) => f.name);
    // tasks_pkey (id) gave way to the (id, id_time) key 0011 built concurrently.
    assert.deepEqual(gone.sort(), ['tasks_idempotency_key', 'tasks_pkey']);

    assert.equal((await store.taskGet(sample.id))?.task, 'original 7');
    assert.equal((await store.taskGetByIdempotencyKey('key-42'))?.state, 'completed');
    await assert.rejects(store.taskInsertManyV1([v1Task(newTaskId(), { idempotencyKey: 'key-42' })]), {
      code: '23505',
    });
    const counts = await pool.query<{ tasks: number; keys: number; deliveries: number }>(`
      SELECT (SELECT count(*)::int FROM taskd.tasks) AS tasks,
             (SELECT count(*)::int FROM taskd.idempotency_keys) AS keys,
             (SELECT count(*)::int FROM taskd.webhook_deliveries) AS deliveries`);
    assert.deepEqual(counts.rows[0], { tasks: 300, keys: 100, deliveries: 100 });
    const keyed = (await store.taskGetByIdempotencyKey('key-42'))!.id;
    assert.equal((await store.webhookDeliveriesOfTask(keyed))?.length, 1);

    // New tasks: in a time partition, FIFO after every old one.
    const id = newTaskId();
    await store.taskInsertManyV1([v1Task(id)]);
    const { rows: fresh } = await pool.query<{ seq: string; part: string }>(
      `SELECT seq::text, tableoid::regclass::text AS part FROM taskd.tasks WHERE id = $1`,
      [id],
    );
    assert.ok(BigInt(fresh[0]!.seq) > BigInt(seqBefore[0]!.max));
    assert.match(fresh[0]!.part, /^taskd\.tasks_\d{8}t\d{6}$/);
  });
});
