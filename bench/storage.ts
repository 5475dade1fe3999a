import pg from 'pg';
import { adminQuery, createDatabase, dropDatabase, smallPool } from './lib/pg.js';
import { fillQueue, insertFinished, migrateDatabase, unfinished } from './lib/schema.js';
import { Service } from './lib/service.js';
import { log, sleep, waitFor } from './lib/util.js';

/**
 * 11. Storage stays flat: the same drain of queued no-op tasks, once in a fresh database and once in one that
 * also holds `finished` finished rows and `scheduled` scheduled rows (run_at a day ahead), as a system that has
 * run for a while has. The rows are made with generate_series and the table is VACUUM ANALYZEd after the fill,
 * as autovacuum would have done by then. What is compared: tasks/s of the drain (the database's own timestamps),
 * and the database's statement time per task (pg_stat_database.active_time: time backends spent executing
 * statements), with block hits per task, which show a scan that grows with the table.
 */

export interface StorageSample {
  label: string;
  rowsInTable: number;
  tasks: number;
  perSecond: number;
  seconds: number;
  /** Statement time in the database per drained task (every statement of the process, claim and settle above all). */
  activeMsPerTask: number;
  blocksHitPerTask: number;
  transactionsPerTask: number;
}

export interface StorageResult {
  empty: StorageSample;
  filled: StorageSample;
  /** filled tasks/s ÷ empty tasks/s (≥ 1/1.2 is within 1.2×). */
  rateRatio: number;
  /** filled statement time per task ÷ empty (≤ 1.2 is within 1.2×). */
  costRatio: number;
}

interface DbStats {
  activeMs: number;
  xacts: number;
  blksHit: number;
}

async function dbStats(database: string): Promise<DbStats> {
  const rows = await adminQuery<{ active: number; xacts: string; hit: string }>(
    `SELECT active_time::float8 AS active, (xact_commit + xact_rollback)::text AS xacts, blks_hit::text AS hit
     FROM pg_stat_database WHERE datname = $1`,
    [database],
  );
  const r = rows[0];
  if (!r) throw new Error(`no statistics for ${database}`);
  return { activeMs: r.active, xacts: Number(r.xacts), blksHit: Number(r.hit) };
}

/** The rows of a system that has run a while: finished tasks an hour old, and tasks scheduled for tomorrow. */
async function fillHistory(url: string, finished: number, scheduled: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await insertFinished(client, finished);
    await client.query(
      `INSERT INTO taskd.tasks (id, handler, input, state, run_at, timeout_ms)
       SELECT gen_random_uuid(), 'noop', 'later task ' || g, 'scheduled',
              now() + interval '1 day' + g * interval '1 second', 240000
       FROM generate_series(1, $1) g`,
      [scheduled],
    );
    await client.query('VACUUM ANALYZE taskd.tasks');
  } finally {
    await client.end();
  }
}

async function drainOnce(
  label: string,
  tasks: number,
  history?: { finished: number; scheduled: number },
): Promise<StorageSample> {
  const db = await createDatabase('storage');
  await migrateDatabase(db.url);
  if (history) {
    log(`storage: filling ${history.finished} finished and ${history.scheduled} scheduled rows`);
    await fillHistory(db.url, history.finished, history.scheduled);
  }
  const pool = smallPool(db.url, 1);
  const service = await Service.start({ databaseUrl: db.url, env: { DEFAULT_HANDLER: 'noop' } });
  try {
    // Backends report their counters when a transaction ends, at most once a second, and an idle one within
    // 10 s: after 11 s idle the start's own statements are in the baseline, not in the drain's figures.
    await sleep(11_000);
    const before = await dbStats(db.name);
    await fillQueue(db.url, tasks, 'noop', 240_000);
    await waitFor(
      'the drain to finish',
      async () => ((await unfinished(pool)) ? undefined : true),
      300_000,
      100,
    );
    // A stopped process's backends report everything they counted as they exit.
    await service.stop();
    await sleep(500);
    const after = await dbStats(db.name);
    const { rows } = await pool.query<{ s: number; n: number; total: number }>(
      `SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 AS s, count(*)::int AS n,
              (SELECT count(*)::int FROM taskd.tasks) AS total
       FROM taskd.tasks WHERE input LIKE 'bench task %' AND state = 'completed'`,
    );
    const r = rows[0];
    if (!r || r.n !== tasks) throw new Error(`storage: expected ${tasks} completed, got ${r?.n}`);
    // The bench's own polls ran in this database too: one transaction per 100 ms, a cheap index probe each.
    return {
      label,
      rowsInTable: r.total,
      tasks,
      perSecond: tasks / r.s,
      seconds: r.s,
      activeMsPerTask: (after.activeMs - before.activeMs) / tasks,
      blocksHitPerTask: (after.blksHit - before.blksHit) / tasks,
      transactionsPerTask: (after.xacts - before.xacts) / tasks,
    };
  } finally {
    await service.stop();
    await pool.end();
    await dropDatabase(db.name);
  }
}

export async function storageWorkload(
  tasks: number,
  finished: number,
  scheduled: number,
): Promise<StorageResult> {
  const empty = await drainOnce('empty table', tasks);
  const filled = await drainOnce(`+${finished} finished, +${scheduled} scheduled`, tasks, {
    finished,
    scheduled,
  });
  return {
    empty,
    filled,
    rateRatio: filled.perSecond / empty.perSecond,
    costRatio: filled.activeMsPerTask / empty.activeMsPerTask,
  };
}
