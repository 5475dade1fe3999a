/**
 * Soak: two processes under steady create load for two minutes, on a PostgreSQL of the scenario's own (so that
 * autovacuum runs, as it does in production; the shared test server may have it off). Memory (VmRSS, V8 heap),
 * database connections and the size of the tasks table are sampled throughout and must stay flat, apart from
 * the finished tasks that retention keeps.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { waitFor } from '../helpers/wait.js';
import { Cluster, rssMiB } from './helpers/cluster.js';
import { CreateLoad } from './helpers/load.js';
import { OwnPostgres } from './helpers/own-postgres.js';
import { report, round, tally } from './helpers/report.js';
import { runAlone } from './helpers/serial.js';

const SOAK_MS = 120_000;
const SAMPLE_MS = 5000;
/** Samples before this are warm-up (JIT, pools filling) and not compared. */
const WARMUP_MS = 20_000;
const RATE = 100;

interface Sample {
  at: number;
  rss: number[];
  heap: number[];
  connections: number;
  live: number;
  dead: number;
  bytes: number;
}

const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('fault: soak (two minutes of steady load)', () => {
  let release: (() => Promise<void>) | undefined;
  let postgres: OwnPostgres | undefined;
  let pool: pg.Pool | undefined;
  let cluster: Cluster;
  let load: CreateLoad;
  const samples: Sample[] = [];
  let first: Sample;
  let last: Sample;
  let vacuums = { autovacuum_count: 0, last_autovacuum: null as string | null };

  const tableStats = async () => {
    const { rows } = await pool!.query<{ live: number; dead: number; bytes: number; connections: number }>(
      // The table is partitioned: its figures are the sums over its partitions.
      `SELECT coalesce(sum(s.n_live_tup), 0)::int AS live, coalesce(sum(s.n_dead_tup), 0)::int AS dead,
              coalesce(sum(pg_total_relation_size(s.relid)), 0)::bigint::float8 AS bytes,
              (SELECT count(*)::int FROM pg_stat_activity
               WHERE datname = current_database() AND application_name LIKE 'taskd%') AS connections
       FROM pg_stat_user_tables s JOIN pg_partition_tree('taskd.tasks') p ON p.relid = s.relid`,
    );
    return rows[0]!;
  };

  before(async () => {
    release = await runAlone();
    postgres = await OwnPostgres.start();
    const url = await postgres.createDatabase('taskd_soak');
    // Two minutes stand for hours: autovacuum looks every 10 s instead of every minute, so that the run shows
    // whether vacuum keeps up with the table's churn (the table's own settings are the service's).
    const admin = new pg.Client({ connectionString: postgres.adminUrl });
    await admin.connect();
    await admin.query(`ALTER SYSTEM SET autovacuum_naptime = '10s'`);
    await admin.query('SELECT pg_reload_conf()');
    await admin.end();
    pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => {});
    const probe = pathToFileURL(path.resolve('test/faults/helpers/heap-probe.mjs')).href;
    cluster = new Cluster(
      {
        DATABASE_URL: url,
        SIMULATE_MIN_MS: '10',
        SIMULATE_MAX_MS: '200',
        WORKER_CONCURRENCY: '200',
        DB_POOL_SIZE: '10',
        NODE_OPTIONS: `--import=${probe}`,
      },
      2,
    );
    await cluster.start();
    load = new CreateLoad({
      targets: () => cluster.liveUrls(),
      ratePerSecond: RATE,
      maxInFlight: 50,
    }).start();

    const t0 = performance.now();
    // The sampling schedule: one sample every SAMPLE_MS for SOAK_MS.
    for (let i = 1; i <= SOAK_MS / SAMPLE_MS; i++) {
      await sleep(Math.max(0, t0 + i * SAMPLE_MS - performance.now()));
      const stats = await tableStats();
      const heap = cluster.live().map((p) => {
        const probes = p.logs.filter((l) => l.msg === 'heap probe');
        return Number(probes[probes.length - 1]?.heap_used_mib ?? NaN);
      });
      samples.push({
        at: performance.now() - t0,
        rss: await Promise.all(cluster.live().map(async (p) => (await rssMiB(p.pid)) ?? NaN)),
        heap,
        ...stats,
      });
    }
    await load.stop();
    await waitFor(
      'the last tasks finished',
      async () =>
        (
          await pool!.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM taskd.tasks WHERE state IN ('queued', 'running')`,
          )
        ).rows[0]!.n === 0,
      { timeoutMs: 15_000 },
    ).catch(() => undefined);
    vacuums = (
      await pool.query<typeof vacuums>(
        `SELECT coalesce(sum(s.autovacuum_count), 0)::int AS autovacuum_count,
                max(s.last_autovacuum)::text AS last_autovacuum
         FROM pg_stat_user_tables s JOIN pg_partition_tree('taskd.tasks') p ON p.relid = s.relid`,
      )
    ).rows[0]!;

    // Averages over a window, at the start (after the warm-up) and at the end, per process.
    const window = (from: number, to: number) => samples.filter((s) => s.at >= from && s.at < to);
    const head = window(WARMUP_MS, WARMUP_MS + 20_000);
    const tail = window(SOAK_MS - 20_000, SOAK_MS + 1);
    const per = (ss: Sample[], key: 'rss' | 'heap') =>
      cluster.live().map((_, i) => round(avg(ss.map((s) => s[key][i]!)), 1));
    first = head[0]!;
    last = samples[samples.length - 1]!;
    const heapMins = (from: number, to: number) =>
      cluster
        .live()
        .map((p) =>
          round(
            Math.min(
              ...p.logs
                .filter((l) => l.msg === 'heap probe' && Number(l.time) >= from && Number(l.time) < to)
                .map((l) => Number(l.heap_used_mib)),
            ),
            1,
          ),
        );
    const startEpoch = Date.now() - (performance.now() - t0);
    report('soak', {
      duration_s: SOAK_MS / 1000,
      create_rate_per_s: RATE,
      create_answers: load.outcomes(),
      rss_mib_start_vs_end: { start: per(head, 'rss'), end: per(tail, 'rss') },
      heap_mib_start_vs_end: { start: per(head, 'heap'), end: per(tail, 'heap') },
      heap_floor_mib_start_vs_end: {
        start: heapMins(startEpoch + WARMUP_MS, startEpoch + WARMUP_MS + 20_000),
        end: heapMins(startEpoch + SOAK_MS - 20_000, startEpoch + SOAK_MS + 1),
      },
      connections: tally(samples.map((s) => s.connections)),
      tasks_live_start_vs_end: [first.live, last.live],
      dead_tuples_start_vs_end: [first.dead, last.dead],
      max_dead_tuples: Math.max(...samples.map((s) => s.dead)),
      table_bytes_start_vs_end: [first.bytes, last.bytes],
      bytes_per_task_start_vs_end: [round(first.bytes / first.live), round(last.bytes / last.live)],
      autovacuum: vacuums,
    });
  });

  after(async () => {
    await load?.stop();
    await cluster?.closeAll();
    await pool?.end().catch(() => {});
    await postgres?.destroy();
    await release?.();
  });

  test('the load ran all along: only 201s', () => {
    assert.deepEqual(Object.keys(load.outcomes()), ['201']);
    assert.ok(load.accepted.length >= RATE * (SOAK_MS / 1000) * 0.9);
  });

  test('memory stays flat: RSS and the V8 heap grow by less than 25% + 20 MiB per process', () => {
    const head = samples.filter((s) => s.at >= WARMUP_MS && s.at < WARMUP_MS + 20_000);
    const tail = samples.filter((s) => s.at >= SOAK_MS - 20_000);
    for (let i = 0; i < cluster.size; i++) {
      for (const key of ['rss', 'heap'] as const) {
        const start = avg(head.map((s) => s[key][i]!));
        const end = avg(tail.map((s) => s[key][i]!));
        assert.ok(
          end <= start * 1.25 + 20,
          `process ${i} ${key}: ${start.toFixed(1)} → ${end.toFixed(1)} MiB`,
        );
      }
    }
  });

  test('database connections stay within the pools and do not grow', () => {
    const max = Math.max(...samples.map((s) => s.connections));
    // Per process: DB_POOL_SIZE plus the notification connection.
    assert.ok(max <= cluster.size * 11, `up to ${max} connections`);
    assert.ok(last.connections <= first.connections + 2 * cluster.size);
  });

  test('the tasks table does not bloat: dead rows are reclaimed and the size follows the live rows', () => {
    assert.ok(vacuums.autovacuum_count >= 2, `autovacuum ran ${vacuums.autovacuum_count} times`);
    assert.ok(last.dead <= Math.max(5000, last.live * 0.25), `${last.dead} dead rows for ${last.live} live`);
    assert.ok(last.bytes / last.live <= 2048, `${Math.round(last.bytes / last.live)} bytes per task`);
  });
});
