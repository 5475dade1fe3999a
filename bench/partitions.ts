/**
 * `npm run bench:partitions [-- --tasks N] [--quick]`: storage stays flat over a run of millions of tasks.
 *
 * One taskd, started as a user starts it (`node dist/main.js`, the build `npm start` runs), with partitions of one
 * minute and a retention of two: the run goes through many partitions made ahead, filled, ended and dropped, as a
 * day-partitioned deployment does over weeks. Tasks come in over HTTP (`POST /v1/tasks/batch`, 500 per request)
 * at a steady rate (`--rate`, 2,500/s; slower if the backlog passes 20,000) and run the built-in `noop` kind. Every 15 s the bench samples, from the database:
 * the claim statement the engine runs (src/db/store.ts, taskClaimAvailable, in a transaction rolled back), timed
 * and its buffers counted by EXPLAIN ANALYZE; a read by id; the size of the task table with its indexes (every
 * partition) and of the key and delivery tables; its dead tuples; its partitions. The report compares the run's
 * quarters: flat means the last quarter within 1.2× of the first (after the first retention window).
 *
 * Results: bench/results/<stamp>-partitions.json and .svg.
 */
import { writeFile } from 'node:fs/promises';
import pg from 'pg';
import { Pool } from 'undici';
import { statementText } from '../src/db/store.js';
import { createDatabase, dropDatabase } from './lib/pg.js';
import { Service } from './lib/service.js';
import { renderChart, type Panel } from './lib/svg.js';
import { log, round, sleep } from './lib/util.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const tasksArg = argv.indexOf('--tasks');
const TOTAL = tasksArg >= 0 ? Number(argv[tasksArg + 1]) : quick ? 300_000 : 3_000_000;
const rateArg = argv.indexOf('--rate');
/** Tasks created per second, held steady so that what the table holds depends on time, not on the machine's mood. */
const RATE = rateArg >= 0 ? Number(argv[rateArg + 1]) : 2500;
const BATCH = 500;
const LOADERS = 4;
const BACKLOG = 20_000;
const SAMPLE_MS = 15_000;
const PARTITION_MINUTES = 1;
const RETENTION_MINUTES = 2;
const PROBE_WORKER = '00000000-0000-4000-8000-00000000b0b0';

interface Sample {
  /** Seconds since the load started. */
  t: number;
  created: number;
  queued: number;
  claimMs: number;
  claimPlanMs: number;
  claimBuffers: number;
  readMs: number;
  tableBytes: number;
  indexBytes: number;
  keysAndDeliveriesBytes: number;
  liveTuples: number;
  deadTuples: number;
  partitions: number;
}

interface ExplainJson {
  Plan: { 'Shared Hit Blocks'?: number; 'Shared Read Blocks'?: number };
  'Planning Time': number;
  'Execution Time': number;
  Planning?: { 'Shared Hit Blocks'?: number };
}

async function explain(client: pg.Client, sql: string, values: unknown[]): Promise<ExplainJson> {
  const { rows } = await client.query<{ 'QUERY PLAN': ExplainJson[] }>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`,
    values,
  );
  return rows[0]!['QUERY PLAN'][0]!;
}

async function sample(client: pg.Client, t: number, created: number, lastId: string | undefined) {
  await client.query('BEGIN');
  let claim: ExplainJson;
  try {
    await client.query(
      `INSERT INTO taskd.workers (id, host, pid, expires_at) VALUES ($1, 'bench', 0, now() + interval '1 minute')`,
      [PROBE_WORKER],
    );
    claim = await explain(client, statementText('taskClaimAvailable'), [PROBE_WORKER, 100, []]);
  } finally {
    await client.query('ROLLBACK');
  }
  const read = lastId
    ? await explain(client, statementText('taskGetRecord'), [lastId])
    : { 'Execution Time': 0, 'Planning Time': 0 };
  const { rows } = await client.query<{
    table_bytes: string;
    index_bytes: string;
    side_bytes: string;
    live: string;
    dead: string;
    partitions: number;
    queued: number;
  }>(`
    SELECT (SELECT sum(pg_table_size(relid)) FROM pg_partition_tree('taskd.tasks') WHERE isleaf)::text AS table_bytes,
           (SELECT sum(pg_indexes_size(relid)) FROM pg_partition_tree('taskd.tasks') WHERE isleaf)::text AS index_bytes,
           (pg_total_relation_size('taskd.idempotency_keys')
             + pg_total_relation_size('taskd.webhook_deliveries'))::text AS side_bytes,
           (SELECT sum(n_live_tup) FROM pg_stat_user_tables s JOIN pg_partition_tree('taskd.tasks') p
              ON p.relid = s.relid)::text AS live,
           (SELECT sum(n_dead_tup) FROM pg_stat_user_tables s JOIN pg_partition_tree('taskd.tasks') p
              ON p.relid = s.relid)::text AS dead,
           (SELECT count(*)::int FROM pg_partition_tree('taskd.tasks') WHERE isleaf) AS partitions,
           (SELECT count(*)::int FROM taskd.tasks WHERE state = 'queued') AS queued`);
  const r = rows[0]!;
  return {
    t,
    created,
    queued: r.queued,
    claimMs: claim['Execution Time'],
    claimPlanMs: claim['Planning Time'],
    claimBuffers: (claim.Plan['Shared Hit Blocks'] ?? 0) + (claim.Plan['Shared Read Blocks'] ?? 0),
    readMs: read['Execution Time'] + read['Planning Time'],
    tableBytes: Number(r.table_bytes),
    indexBytes: Number(r.index_bytes),
    keysAndDeliveriesBytes: Number(r.side_bytes),
    liveTuples: Number(r.live),
    deadTuples: Number(r.dead),
    partitions: r.partitions,
  } satisfies Sample;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
};

async function main(): Promise<void> {
  const db = await createDatabase('partitions');
  const drops: { t: number; partitions: string[] }[] = [];
  let t0 = 0;
  const service = await Service.start({
    databaseUrl: db.url,
    env: {
      PARTITION_INTERVAL_MINUTES: String(PARTITION_MINUTES),
      RETENTION_DAYS: String(RETENTION_MINUTES / 1440),
    },
    watch: {
      contains: 'dropped partitions',
      onLine: (line) => {
        const { partitions } = JSON.parse(line) as { partitions: string[] };
        drops.push({ t: (Date.now() - t0) / 1000, partitions });
      },
    },
  });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const http = new Pool(service.url, { connections: LOADERS, pipelining: 1 });
  const samples: Sample[] = [];
  try {
    log(
      `partitions: ${TOTAL.toLocaleString('en-US')} tasks through one taskd, partitions of ${PARTITION_MINUTES} min, retention ${RETENTION_MINUTES} min`,
    );
    t0 = Date.now();
    let created = 0;
    let queued = 0;
    let lastId: string | undefined;
    let done = false;
    const watcher = (async () => {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        while (!done) {
          const { rows } = await c.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM taskd.tasks WHERE state = 'queued'`,
          );
          queued = rows[0]!.n;
          await sleep(200);
        }
      } finally {
        await c.end();
      }
    })();
    const body = JSON.stringify({
      tasks: Array.from({ length: BATCH }, (_, i) => ({ kind: 'noop', input: { i } })),
    });
    // The batches' start times, shared by the loaders: one batch every BATCH / RATE seconds.
    let nextAt = Date.now();
    const loaders = Array.from({ length: LOADERS }, async () => {
      while (created < TOTAL) {
        if (queued > BACKLOG || Date.now() < nextAt) {
          await sleep(Math.max(5, Math.min(50, nextAt - Date.now())));
          continue;
        }
        nextAt += (BATCH / RATE) * 1000;
        created += BATCH;
        queued += BATCH;
        const res = await http.request({
          method: 'POST',
          path: '/v1/tasks/batch',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const answer = (await res.body.json()) as { tasks?: { id: string }[] };
        if (res.statusCode !== 201 || !answer.tasks)
          throw new Error(`batch create answered ${res.statusCode}`);
        lastId = answer.tasks.at(-1)!.id;
      }
    });
    const sampler = (async () => {
      while (!done) {
        const s = await sample(client, (Date.now() - t0) / 1000, created, lastId);
        samples.push(s);
        log(
          `  ${Math.round(s.t)} s: ${s.created.toLocaleString('en-US')} created, ${s.queued} queued, claim ${round(s.claimMs, 2)} ms ` +
            `(${s.claimBuffers} buffers), table ${round(s.tableBytes / 2 ** 20)} MiB + indexes ${round(s.indexBytes / 2 ** 20)} MiB, ` +
            `${s.deadTuples} dead, ${s.partitions} partitions`,
        );
        const until = Date.now() + SAMPLE_MS;
        while (!done && Date.now() < until) await sleep(200);
      }
    })();
    await Promise.all(loaders);
    // The last tasks drain, and one more retention window passes.
    while (queued > 0) await sleep(500);
    const seconds = (Date.now() - t0) / 1000;
    done = true;
    await Promise.all([watcher, sampler]);
    samples.push(await sample(client, (Date.now() - t0) / 1000, created, lastId));

    // Quarters of the run, from the first sample after the first retention window (the table has filled to its
    // steady size by then).
    const settled = samples.filter((s) => s.t >= (RETENTION_MINUTES + PARTITION_MINUTES) * 60 + 60);
    // A run too short to reach that (--quick) is read whole, and says nothing of the steady state.
    const steady = settled.length >= 8 ? settled : samples;
    const quarter = (i: number) =>
      steady.filter((s) => {
        const span = steady.at(-1)!.t - steady[0]!.t || 1;
        const q = Math.min(3, Math.floor(((s.t - steady[0]!.t) / span) * 4));
        return q === i;
      });
    const quarters = [0, 1, 2, 3].map((i) => {
      const q = quarter(i);
      const pick = (f: (s: Sample) => number) => ({
        median: median(q.map(f)),
        min: Math.min(...q.map(f)),
        max: Math.max(...q.map(f)),
      });
      return {
        quarter: i + 1,
        samples: q.length,
        createdPerSecond: Math.round(
          (q.at(-1)!.created - q[0]!.created) / Math.max(1e-9, q.at(-1)!.t - q[0]!.t),
        ),
        claimMs: pick((s) => s.claimMs),
        claimBuffers: pick((s) => s.claimBuffers),
        readMs: pick((s) => s.readMs),
        totalMiB: pick((s) => (s.tableBytes + s.indexBytes + s.keysAndDeliveriesBytes) / 2 ** 20),
        deadTuples: pick((s) => s.deadTuples),
        partitions: pick((s) => s.partitions),
      };
    });
    const ratio = (f: (q: (typeof quarters)[number]) => number) =>
      round(f(quarters[3]!) / Math.max(1e-9, f(quarters[0]!)), 2);
    const result = {
      when: new Date().toISOString(),
      tasks: created,
      seconds: round(seconds),
      perSecond: Math.round(created / seconds),
      rate: RATE,
      partitionMinutes: PARTITION_MINUTES,
      retentionMinutes: RETENTION_MINUTES,
      partitionsDropped: drops.reduce((n, d) => n + d.partitions.length, 0),
      drops,
      quarters,
      lastToFirst: {
        claimMs: ratio((q) => q.claimMs.median),
        claimBuffers: ratio((q) => q.claimBuffers.median),
        readMs: ratio((q) => q.readMs.median),
        totalMiB: ratio((q) => q.totalMiB.median),
        deadTuples: ratio((q) => Math.max(1, q.deadTuples.median)),
      },
      samples,
    };
    // Whether autovacuum ran meanwhile: without it, dead tuples go only with the partitions retention drops.
    const { rows: av } = await client.query<{ autovacuum: string }>('SHOW autovacuum');
    Object.assign(result, { autovacuum: av[0]!.autovacuum });
    const stamp = result.when.replace(/:/g, '-').replace(/\..*/, '');
    const base = new URL(`./results/${stamp}-partitions`, import.meta.url);
    await writeFile(`${base.pathname}.json`, JSON.stringify(result, null, 2) + '\n');
    const panel = (
      title: string,
      unit: string,
      f: (q: (typeof quarters)[number]) => { median: number; min: number; max: number },
    ): Panel => ({
      title,
      unit,
      bars: quarters.map((q) => ({ label: `quarter ${q.quarter} of the run`, kind: 'ours', ...f(q) })),
    });
    await writeFile(
      `${base.pathname}.svg`,
      renderChart(
        `Storage over ${created.toLocaleString('en-US')} tasks (${result.partitionsDropped} partitions dropped)`,
        `one taskd, partitions of ${PARTITION_MINUTES} min, retention ${RETENTION_MINUTES} min; median and range of 15 s samples per quarter`,
        [
          panel('The claim statement', 'ms', (q) => q.claimMs),
          panel('The claim statement', 'buffers', (q) => q.claimBuffers),
          panel('Task table, indexes, keys and deliveries', 'MiB', (q) => q.totalMiB),
          panel('Dead tuples in the task table', 'rows', (q) => q.deadTuples),
        ],
      ),
    );
    log(
      `partitions: ${JSON.stringify({ ...result, samples: undefined, drops: undefined, quarters: undefined })}`,
    );
    log(`wrote ${base.pathname}.json and .svg`);
  } finally {
    await http.close();
    await client.end();
    await service.stop();
    await dropDatabase(db.name);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
