import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createDatabase, dropDatabase } from './lib/pg.js';
import { fillQueue, insertFinished, migrateDatabase, storeStatement } from './lib/schema.js';
import { closedLoop, percentile } from './lib/util.js';

/**
 * 6. What PostgreSQL allows through the same driver and pool settings as the service (node-postgres, a pool of
 * DB_POOL_SIZE connections), on the service's own table: single-row INSERT transactions, and single-row
 * SKIP LOCKED claim (the service's claim statement, LIMIT 1) followed by a single-row completing UPDATE.
 */

export interface LimitResult {
  insertPerSecond: number;
  insertP50Ms: number;
  insertP99Ms: number;
  claimCompletePerSecond: number;
  callers: number;
  poolSize: number;
}

const INSERT = `INSERT INTO taskd.tasks (id, handler, input, timeout_ms) VALUES ($1, $2, $3, $4)`;
const REGISTER = `INSERT INTO taskd.workers (id, host, pid, expires_at) VALUES ($1, 'bench', 0, now() + interval '1 hour')`;
const COMPLETE = `
  UPDATE taskd.tasks SET state = 'completed', result = 'ok', finished_at = now()
  WHERE id = $1 AND owner = $2 AND attempt = $3 AND state = 'running'`;

export async function limitWorkload(
  callers: number,
  poolSize: number,
  durationMs: number,
): Promise<LimitResult> {
  const db = await createDatabase('limit');
  await migrateDatabase(db.url);
  const pool = new pg.Pool({
    connectionString: db.url,
    max: poolSize,
    application_name: 'taskd-bench-limit',
  });
  pool.on('error', () => {});
  try {
    const insert = () =>
      pool.query({
        name: 'bench_insert',
        text: INSERT,
        values: [randomUUID(), 'noop', 'bench task', 240_000],
      });
    await closedLoop(callers, Math.min(1000, durationMs), insert);
    const ins = await closedLoop(callers, durationMs, insert);

    // Enough queued rows that the claim loop cannot run dry within the window at several times the insert rate.
    await pool.query('TRUNCATE taskd.tasks CASCADE');
    const queued = Math.max(20_000, Math.ceil((ins.latenciesMs.length / ins.elapsedMs) * durationMs * 4));
    await fillQueue(db.url, queued, 'noop', 240_000);
    const claimSql = await storeStatement('taskClaimAvailable');
    const owner = randomUUID();
    // The claim only proceeds for a worker with a live lease.
    await pool.query(REGISTER, [owner]);
    let claimed = 0;
    let dry = false;
    const claimComplete = async () => {
      if (dry) return;
      const rows = (
        await pool.query<{ id: string; attempt: number }>({
          name: 'bench_claim',
          text: claimSql,
          // $3: the kinds external workers run, which the engine's claim passes over (none here).
          values: [owner, 1, []],
        })
      ).rows;
      const row = rows[0];
      if (!row) {
        dry = true;
        return;
      }
      await pool.query({ name: 'bench_complete', text: COMPLETE, values: [row.id, owner, row.attempt] });
      claimed++;
    };
    const warm = closedLoop(callers, Math.min(1000, durationMs), claimComplete);
    await warm;
    const before = claimed;
    const cc = await closedLoop(callers, durationMs, claimComplete);
    if (dry) throw new Error('limit: the queue ran dry during the claim window; raise the fill');
    return {
      insertPerSecond: (ins.latenciesMs.length / ins.elapsedMs) * 1000,
      insertP50Ms: percentile(ins.latenciesMs, 50),
      insertP99Ms: percentile(ins.latenciesMs, 99),
      claimCompletePerSecond: ((claimed - before) / cc.elapsedMs) * 1000,
      callers,
      poolSize,
    };
  } finally {
    await pool.end();
    await dropDatabase(db.name);
  }
}

export interface PlanSample {
  label: string;
  rowsInTable: number;
  planningMs: number;
  executionMs: number;
  /** Median over the samples of execution time. */
  executionMsSamples: number[];
  sharedHit: number;
  sharedRead: number;
  plan: string;
}

/**
 * The claim statement under EXPLAIN (ANALYZE, BUFFERS), claiming `limit` of `queued` queued tasks, on a fresh
 * table and again after `finished` finished rows were added (before and after VACUUM ANALYZE). Each EXPLAIN runs
 * in a transaction that is rolled back, so every sample sees the same table.
 */
export async function claimPlan(
  queued: number,
  finished: number,
  limit = 500,
  samples = 5,
): Promise<PlanSample[]> {
  const db = await createDatabase('plan');
  await migrateDatabase(db.url);
  await fillQueue(db.url, queued, 'noop', 240_000);
  const claimSql = await storeStatement('taskClaimAvailable');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const out: PlanSample[] = [];
  const explain = async (label: string) => {
    const rowsInTable = Number(
      (await client.query<{ n: string }>('SELECT count(*)::text AS n FROM taskd.tasks')).rows[0]?.n,
    );
    // The claim only proceeds for a worker with a live lease.
    const owner = randomUUID();
    await client.query(REGISTER, [owner]);
    const runs: { planningMs: number; executionMs: number; hit: number; read: number; plan: string }[] = [];
    for (let i = 0; i < samples; i++) {
      await client.query('BEGIN');
      try {
        const json = (
          await client.query<{ 'QUERY PLAN': unknown }>(
            `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${claimSql}`
              .replaceAll('$1', `'${owner}'::uuid`)
              .replace('$2', String(limit))
              .replace('$3::text[]', `'{}'::text[]`),
          )
        ).rows[0]?.['QUERY PLAN'] as [
          { 'Planning Time': number; 'Execution Time': number; Plan: Record<string, unknown> },
        ];
        const text = (
          await client.query<{ 'QUERY PLAN': string }>(
            `EXPLAIN (ANALYZE, BUFFERS, COSTS) ${claimSql}`
              .replaceAll('$1', `'${owner}'::uuid`)
              .replace('$2', String(limit))
              .replace('$3::text[]', `'{}'::text[]`),
          )
        ).rows.map((r) => r['QUERY PLAN']);
        const top = json[0];
        runs.push({
          planningMs: top['Planning Time'],
          executionMs: top['Execution Time'],
          hit: Number(top.Plan['Shared Hit Blocks'] ?? 0),
          read: Number(top.Plan['Shared Read Blocks'] ?? 0),
          plan: text.join('\n'),
        });
      } finally {
        await client.query('ROLLBACK');
      }
    }
    runs.sort((a, b) => a.executionMs - b.executionMs);
    const mid = runs[Math.floor(runs.length / 2)]!;
    out.push({
      label,
      rowsInTable,
      planningMs: mid.planningMs,
      executionMs: mid.executionMs,
      executionMsSamples: runs.map((r) => r.executionMs),
      sharedHit: mid.hit,
      sharedRead: mid.read,
      plan: mid.plan,
    });
  };
  try {
    await explain(`${queued} queued, no finished rows`);
    await insertFinished(client, finished);
    await explain(`+${finished} finished rows, before VACUUM`);
    await client.query('VACUUM ANALYZE taskd.tasks');
    await explain(`+${finished} finished rows, after VACUUM ANALYZE`);
    return out;
  } finally {
    await client.end();
    await dropDatabase(db.name);
  }
}
