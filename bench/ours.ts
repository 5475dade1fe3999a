import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { HttpLoad } from './lib/http.js';
import { createDatabase, dropDatabase, smallPool, xactCommit } from './lib/pg.js';
import { fillQueue, fillQueueV1, migrateDatabase, taskCounts, unfinished } from './lib/schema.js';
import { ROOT, Service, UserStart, timeStart, type StartTiming } from './lib/service.js';
import { freePort, log, percentile, sleep, waitFor } from './lib/util.js';

/** The service's workloads, each on a fresh database with its own server process. */

export interface CreateResult {
  connections: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  /** Statements the service sent to PostgreSQL per create, over the measured window. */
  statementsPerTask: number;
}

/** What a v1 create in the benchmark posts: a small JSON object, as a real client's input would be. */
const v1Input = (i: number) => ({ n: i, text: `bench task ${i}`, tags: ['a', 'b'] });

/**
 * 1. POST /task/create from `connections` connections for `durationMs`, against an API-only process. With `api`
 * 'v1', POST /v1/tasks with a JSON input (kind noop) from the same clients instead.
 */
export async function createWorkload(
  connections: number,
  durationMs: number,
  api: 'original' | 'v1' = 'original',
  nodeArgs?: string[],
): Promise<CreateResult> {
  const db = await createDatabase(api === 'v1' ? 'create_v1' : 'create');
  const service = await Service.start({
    databaseUrl: db.url,
    env: { WORKER_CONCURRENCY: '0' },
    countStatements: true,
    ...(nodeArgs && { nodeArgs }),
  });
  const http = new HttpLoad(service.url, connections);
  const create =
    api === 'v1'
      ? (i: number) => http.createV1('noop', v1Input(i))
      : (i: number) => http.create(`bench task ${i}`);
  try {
    await http.run(connections, Math.min(1000, durationMs), (i) => create(-1 - i));
    const sentBefore = await service.statements();
    const r = await http.run(connections, durationMs, create);
    const sent = (await service.statements()) - sentBefore;
    return {
      connections,
      statementsPerTask: sent / Math.max(1, r.latenciesMs.length),
      perSecond: (r.latenciesMs.length / r.elapsedMs) * 1000,
      p50Ms: percentile(r.latenciesMs, 50),
      p99Ms: percentile(r.latenciesMs, 99),
      requests: r.latenciesMs.length,
      errors: r.errors,
    };
  } finally {
    await http.close();
    await service.stop();
    await dropDatabase(db.name);
  }
}

export interface DrainResult {
  tasks: number;
  perSecond: number;
  /** From the first claim to the last completion, by the database's clock. */
  seconds: number;
  /** Statements the service sent to PostgreSQL per task during the drain (reads of the bench's clients included). */
  statementsPerTask: number;
  reads?: { perSecond: number; p50Ms: number; p99Ms: number; requests: number; errors: number };
  /** The same for GET /v1/tasks/{id}, from the other half of the read connections. */
  readsV1?: { perSecond: number; p50Ms: number; p99Ms: number; requests: number; errors: number };
}

/** Resolves when no task is queued or running any more (polled every 50 ms), or throws after `limitMs`. */
async function drained(pool: pg.Pool, what: string, limitMs: number): Promise<void> {
  await waitFor(what, async () => ((await unfinished(pool)) ? undefined : true), limitMs, 50);
}

const readStats = (latencies: number[], errors: number, elapsedMs: number) => ({
  perSecond: (latencies.length / elapsedMs) * 1000,
  p50Ms: percentile(latencies, 50),
  p99Ms: percentile(latencies, 99),
  requests: latencies.length,
  errors,
});

async function drainSpan(pool: pg.Pool): Promise<number> {
  const rows = (
    await pool.query<{ s: number }>(
      `SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 AS s FROM taskd.tasks`,
    )
  ).rows;
  return rows[0]?.s ?? Number.NaN;
}

/**
 * 2. `tasks` queued noop tasks, drained by one process. With `readConnections`, 5.: GET /task/check-result from
 * that many connections against the same process while it drains. With `v1`, the tasks are v1 tasks (JSON input,
 * priorities, two queues, three attempts; every run appends to the attempt history, see fillQueueV1).
 */
export async function drainWorkload(
  tasks: number,
  options: {
    readConnections?: number;
    logLevel?: string;
    nodeArgs?: string[];
    analyze?: boolean;
    v1?: boolean;
  } = {},
): Promise<DrainResult> {
  const db = await createDatabase(options.v1 ? 'drain_v1' : 'drain');
  await migrateDatabase(db.url);
  const pool = smallPool(db.url);
  // The process starts idle (warm: connected, listening); the queue is then filled in one statement, which its
  // poll finds within POLL_INTERVAL_MS. The rate is taken from the database's own timestamps.
  const service = await Service.start({
    databaseUrl: db.url,
    env: { DEFAULT_HANDLER: 'noop', LOG_LEVEL: options.logLevel ?? 'info' },
    ...(options.nodeArgs && { nodeArgs: options.nodeArgs }),
    countStatements: true,
  });
  let reading = true;
  const http = options.readConnections ? new HttpLoad(service.url, options.readConnections) : undefined;
  try {
    if (http) {
      // Open every connection before the drain, so connection set-up is not counted as read latency.
      await http.run(options.readConnections ?? 0, 1000, () => http.check(randomUUID()).catch(() => {}));
    }
    const sentBefore = await service.statements();
    if (options.v1) await fillQueueV1(db.url, tasks, 'noop', 240_000);
    else await fillQueue(db.url, tasks, 'noop', 240_000, options.analyze);
    const ids = http
      ? (
          await pool.query<{ id: string }>('SELECT id FROM taskd.tasks ORDER BY random() LIMIT 2000')
        ).rows.map((r) => r.id)
      : [];
    const reads =
      http &&
      (async () => {
        // Even connections read the original API, odd ones v1.
        const latencies: [number[], number[]] = [[], []];
        const errors: [number, number] = [0, 0];
        const start = performance.now();
        await Promise.all(
          Array.from({ length: options.readConnections ?? 0 }, async (_, loop) => {
            let i = loop;
            const api = loop % 2 === 0 ? 0 : 1;
            // Bounded by the drain (which is bounded) and by a hard 120 s cap.
            while (reading && performance.now() - start < 120_000) {
              const t0 = performance.now();
              const id = ids[i++ % ids.length] as string;
              try {
                await (api === 0 ? http.check(id) : http.getV1(id));
                latencies[api].push(performance.now() - t0);
              } catch {
                errors[api]++;
                await sleep(5);
              }
            }
          }),
        );
        return { latencies, errors, elapsedMs: performance.now() - start };
      })();
    await drained(pool, 'drain to finish', 180_000);
    reading = false;
    const r = reads && (await reads);
    const sent = (await service.statements()) - sentBefore;
    const c = await taskCounts(pool);
    if ((c.completed ?? 0) !== tasks)
      throw new Error(`drain: expected ${tasks} completed, got ${JSON.stringify(c)}`);
    if (options.v1) {
      // The v1 drain measures the history write too: make sure it happened.
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM taskd.tasks WHERE jsonb_array_length(history) = 1`,
      );
      if (rows[0]?.n !== tasks)
        throw new Error(`drain: expected ${tasks} attempt histories, got ${rows[0]?.n}`);
    }
    const seconds = await drainSpan(pool);
    return {
      tasks,
      perSecond: tasks / seconds,
      seconds,
      statementsPerTask: sent / tasks,
      ...(r && {
        reads: readStats(r.latencies[0], r.errors[0] ?? 0, r.elapsedMs),
        readsV1: readStats(r.latencies[1], r.errors[1] ?? 0, r.elapsedMs),
      }),
    };
  } finally {
    reading = false;
    await http?.close();
    await service.stop();
    await pool.end();
    await dropDatabase(db.name);
  }
}

export interface DrainFromStartResult {
  tasks: number;
  /** tasks / (last finished_at − the spawn of `npm start`): what a user who starts the service on a backlog sees. */
  perSecond: number;
  /** tasks / (last finished_at − first started_at), for comparison with the warm drain. */
  fromFirstPerSecond: number;
  /** Spawn → the first task started. */
  firstStartMs: number;
  statementsPerTask: number;
}

/**
 * 2c. `tasks` v1 tasks (priorities, two queues, attempt history) queued before the service starts; `npm start` at
 * the default LOG_LEVEL (info) drains them. The clock starts at the spawn, as a peer's starts at its worker's start.
 */
export async function drainFromStartWorkload(tasks: number): Promise<DrainFromStartResult> {
  const db = await createDatabase('drain_start');
  await migrateDatabase(db.url);
  await fillQueueV1(db.url, tasks, 'noop', 240_000);
  const pool = smallPool(db.url);
  const started = new UserStart(
    'npm start',
    await freePort(),
    { DATABASE_URL: db.url, DEFAULT_HANDLER: 'noop' },
    true,
  );
  try {
    await drained(pool, 'drain from start to finish', 300_000);
    if (started.compiled) throw new Error('npm start compiled the service; measure a fresh build only');
    const c = await taskCounts(pool);
    if ((c.completed ?? 0) !== tasks)
      throw new Error(`drain from start: expected ${tasks} completed, got ${JSON.stringify(c)}`);
    const { rows } = await pool.query<{ last: number; first: number }>(
      `SELECT extract(epoch FROM max(finished_at))::float8 * 1000 AS last,
              extract(epoch FROM min(started_at))::float8 * 1000 AS first FROM taskd.tasks`,
    );
    const { last, first } = rows[0] as { last: number; first: number };
    await sleep(300);
    return {
      tasks,
      perSecond: tasks / ((last - started.t0Wall) / 1000),
      fromFirstPerSecond: tasks / ((last - first) / 1000),
      firstStartMs: first - started.t0Wall,
      statementsPerTask: started.statementsSent / tasks,
    };
  } finally {
    await started.stop();
    await pool.end();
    await dropDatabase(db.name);
  }
}

export interface PickupResult {
  count: number;
  /** Create request sent (bench clock) → "task started" log line (server clock, whole ms). */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** started_at - created_at in the database (microseconds; excludes HTTP and the insert's own commit). */
  dbP50Ms: number;
  dbP95Ms: number;
  dbP99Ms: number;
}

/** 3. At idle, tasks created one at a time; time until the handler starts. */
export async function pickupWorkload(count: number): Promise<PickupResult> {
  const db = await createDatabase('pickup');
  const started = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const service = await Service.start({
    databaseUrl: db.url,
    env: { DEFAULT_HANDLER: 'noop' },
    watch: {
      contains: '"msg":"task started"',
      onLine: (line) => {
        const entry = JSON.parse(line) as { task_id: string; time: number };
        started.set(entry.task_id, entry.time);
        waiters.get(entry.task_id)?.();
      },
    },
  });
  const http = new HttpLoad(service.url, 1);
  const pool = smallPool(db.url);
  try {
    const latencies: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < count + 10; i++) {
      const sentAt = performance.timeOrigin + performance.now();
      const id = await http.create(`pickup ${i}`);
      if (!started.has(id)) {
        await Promise.race([new Promise<void>((resolve) => waiters.set(id, resolve)), sleep(5000)]);
        waiters.delete(id);
      }
      const at = started.get(id);
      if (at === undefined) throw new Error(`task ${id} did not start within 5 s`);
      // The first 10 warm up connections and prepared statements.
      if (i >= 10) {
        latencies.push(at - sentAt);
        ids.push(id);
      }
      // Idle: let the settle and the log lines go out before the next create.
      await sleep(20);
    }
    const dbRows = (
      await pool.query<{ ms: number }>(
        `SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 AS ms FROM taskd.tasks WHERE id = ANY($1)`,
        [ids],
      )
    ).rows.map((r) => r.ms);
    return {
      count,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
      dbP50Ms: percentile(dbRows, 50),
      dbP95Ms: percentile(dbRows, 95),
      dbP99Ms: percentile(dbRows, 99),
    };
  } finally {
    await http.close();
    await service.stop();
    await pool.end();
    await dropDatabase(db.name);
  }
}

export interface InflightResult {
  tasks: number;
  waitMs: number;
  /** Seconds from the process listening until every task was running. */
  rampSeconds: number;
  /** Tasks running when the last one was claimed: all of them unless the ramp outlasted the wait. */
  runningAtOnce: number;
  /** RSS of the same process idle, before the queue was filled. */
  baselineRssMiB: number;
  peakRssMiB: number;
  peakHeapUsedMiB: number;
  /** Transactions per second committed in the database while all tasks ran and none finished. */
  steadyTxPerSecond: number;
  steadyWindowSeconds: number;
  allCompleted: boolean;
  completedSeconds: number;
}

/** Time within which every backend has reported the transactions it committed (PGSTAT_IDLE_INTERVAL, and a margin). */
const STATS_REPORTED_MS = 11_000;

/** 4. `tasks` tasks that each wait `waitMs`, all running at once in one process. */
export async function inflightWorkload(
  tasks: number,
  waitMs: number,
  leaseMs = 15_000,
): Promise<InflightResult> {
  const db = await createDatabase('inflight');
  await migrateDatabase(db.url);
  const pool = smallPool(db.url, 1);
  const service = await Service.start({
    databaseUrl: db.url,
    env: {
      WORKER_CONCURRENCY: String(tasks),
      SIMULATE_MIN_MS: String(waitMs),
      SIMULATE_MAX_MS: String(waitMs),
      TASK_TIMEOUT_MS: String(waitMs + 120_000),
      LEASE_MS: String(leaseMs),
    },
    memprobeMs: 500,
  });
  let t0 = Date.now();
  try {
    // The idle process first, for a baseline; then the queue is filled in one statement (found by the poll).
    await sleep(1500);
    const baselineRss = (await service.memory())?.rss ?? Number.NaN;
    await fillQueue(db.url, tasks, 'simulate', waitMs + 120_000);
    t0 = Date.now();
    // Ramp: until nothing is queued; then every task that has not finished yet runs at once.
    const atRamp = await waitFor(
      'every task claimed',
      async () => {
        const c = await taskCounts(pool);
        return (c.queued ?? 0) === 0 ? c : undefined;
      },
      waitMs + 120_000,
      250,
    );
    const rampSeconds = (Date.now() - t0) / 1000;
    const runningAtOnce = atRamp.running ?? 0;
    // The earliest task finishes waitMs after it started (after t0); keep a margin at both ends. PostgreSQL
    // counts a backend's transactions in pg_stat_database when the backend reports them, which an idle backend
    // does up to ten seconds later (PGSTAT_IDLE_INTERVAL): the window opens only once the ramp's claims are
    // counted, or it counts them too (200 claims at 100,000 tasks against 10 at 5,000).
    const windowMs = Math.min(30_000, t0 + waitMs - Date.now() - 3000) - STATS_REPORTED_MS;
    let steadyTxPerSecond = Number.NaN;
    let steadyWindowSeconds = 0;
    if (windowMs >= 3000) {
      await sleep(STATS_REPORTED_MS);
      const before = await xactCommit(db.name);
      const ws = Date.now();
      await sleep(windowMs);
      const after = await xactCommit(db.name);
      steadyWindowSeconds = (Date.now() - ws) / 1000;
      steadyTxPerSecond = (after - before) / steadyWindowSeconds;
    } else log(`in-flight: ramp took ${rampSeconds} s, too long for a steady window`);
    const done = await waitFor(
      'all tasks completed',
      async () => {
        const c = await taskCounts(pool);
        if ((c.completed ?? 0) + (c.failed ?? 0) === tasks) return c;
        return undefined;
      },
      waitMs + 120_000,
      500,
    ).catch(() => undefined);
    const mem = await service.memory();
    const peakHeap = Math.max(0, ...service.mem.map((m) => m.heapUsed));
    return {
      tasks,
      waitMs,
      rampSeconds,
      runningAtOnce,
      baselineRssMiB: baselineRss / 2 ** 20,
      peakRssMiB: (mem?.hwm ?? Number.NaN) / 2 ** 20,
      peakHeapUsedMiB: peakHeap / 2 ** 20,
      steadyTxPerSecond,
      steadyWindowSeconds,
      allCompleted: done !== undefined && (done.completed ?? 0) === tasks,
      completedSeconds: (Date.now() - t0) / 1000,
    };
  } finally {
    await service.stop();
    await pool.end();
    await dropDatabase(db.name);
  }
}

export interface StartResult {
  /** `npm start` with DATABASE_URL set to a fresh database (so the start applies every migration). */
  npm: StartTiming;
  /** `npm start` on a database an earlier start migrated: a restart, as after a crash or when scaling out. */
  npmRestart: StartTiming;
  /** `node dist/main.js` on a fresh database: the same start without npm and the build check. */
  direct: StartTiming;
  /** `npm start` without DATABASE_URL: the embedded PostgreSQL on a data dir an earlier start created. */
  embedded: StartTiming;
}

/** The postmaster's pid from a data dir's postmaster.pid, if that process is alive. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * 8. `npm start` → ready, as a user runs it, on a fresh build (checked first: a start that compiles is not
 * measured). Each round times the four starts one after another, so that the machine's noise spreads over all
 * four. One unmeasured start first migrates the restart's database and warms the page cache, as any restart
 * finds it; the embedded data dir is created (initdb) by an unmeasured start too.
 */
export async function startWorkload(rounds: number): Promise<StartResult[]> {
  const check = spawnSync(process.execPath, ['scripts/build-if-stale.mjs', '--check'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (check.status !== 0) throw new Error(`start: dist/ is not fresh (${check.stdout.trim()})`);
  const dataDir = await mkdtemp(path.join(tmpdir(), 'taskd-bench-start-'));
  const embeddedEnv = {
    DATABASE_URL: undefined,
    DATA_DIR: dataDir,
    EMBEDDED_PG_PORT: String(await freePort()),
  };
  const onFreshDatabase = async (command: 'npm start' | 'node dist/main.js') => {
    const db = await createDatabase('start');
    try {
      return await timeStart({ command, env: { DATABASE_URL: db.url } });
    } finally {
      await dropDatabase(db.name);
    }
  };
  const existing = await createDatabase('start_existing');
  try {
    log('start: creating the embedded data dir (unmeasured)');
    await timeStart({ command: 'npm start', env: embeddedEnv, timeoutMs: 180_000 });
    log('start: migrating the database of the restarts, warming up (unmeasured)');
    await timeStart({ command: 'npm start', env: { DATABASE_URL: existing.url } });
    const out: StartResult[] = [];
    for (let i = 0; i < rounds; i++) {
      const round = {
        npm: await onFreshDatabase('npm start'),
        npmRestart: await timeStart({ command: 'npm start', env: { DATABASE_URL: existing.url } }),
        direct: await onFreshDatabase('node dist/main.js'),
        embedded: await timeStart({ command: 'npm start', env: embeddedEnv }),
      };
      log(`start: round ${i + 1}/${rounds}: ${JSON.stringify(round)}`);
      out.push(round);
    }
    return out;
  } finally {
    // Each start stopped its embedded server; one left behind by a failed start is stopped here (fast shutdown).
    const pid = await postmasterPid(dataDir);
    if (pid) {
      process.kill(pid, 'SIGINT');
      await waitFor(
        'the embedded PostgreSQL to stop',
        async () => ((await postmasterPid(dataDir)) === undefined ? true : undefined),
        30_000,
        100,
      );
    }
    await rm(dataDir, { recursive: true, force: true });
    await dropDatabase(existing.name);
  }
}
