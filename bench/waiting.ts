import { spawn, type ChildProcess } from 'node:child_process';
import type { WaitLoadJob, WaitLoadReport } from './lib/wait-load.js';
import { adminQuery, createDatabase, dropDatabase, smallPool } from './lib/pg.js';
import { migrateDatabase } from './lib/schema.js';
import { ROOT, Service } from './lib/service.js';
import { log, percentile, sleep, waitFor } from './lib/util.js';

/**
 * 10. Waiting at scale: `polls` long-polls (`GET /v1/tasks/{id}?wait=60`) and `streams` event streams
 * (`GET /v1/tasks/{id}/events`) held on one API-only process (WORKER_CONCURRENCY=0), one task each, from two
 * load-generator processes (bench/lib/wait-load.ts). While all of them wait and nothing changes, the database's
 * transactions and fetched tuples are counted (pg_stat_database, the same window length idle before): waiting
 * must cost the database nothing per waiter. Then a second process (the workers) runs the tasks, which end spread
 * over a few seconds, and each waiter's latency is taken from its task's `finished_at` to its answer.
 *
 * Clocks: `finished_at` is PostgreSQL's now() in the settling transaction, i.e. that transaction's start, read
 * from this machine's clock; the answer's time is the load generator's, from the same clock (timeOrigin + now()).
 * The latency so counts the settle statement itself, its commit, the notification, the waiters' read and the
 * answer: never less than the real latency, and no clock offset in it.
 */

export interface WaitingResult {
  polls: number;
  streams: number;
  /** ms from finished_at to the answer, long-polls and streams together. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  pollP99Ms: number;
  streamP99Ms: number;
  /** Waiters whose answer said the task had ended (all of them unless something was missed). */
  answeredTerminal: number;
  notTerminal: number;
  errors: number;
  /** RSS and heap growth of the process from idle to all waiting, per waiter. */
  rssPerWaiterKiB: number;
  heapPerWaiterKiB: number;
  rssWaitingMiB: number;
  /** Per second over the same window, idle and with everyone waiting. */
  idleTxPerSecond: number;
  waitingTxPerSecond: number;
  idleTupFetchedPerSecond: number;
  waitingTupFetchedPerSecond: number;
  /** Seconds from the first request sent until every waiter was registered. */
  connectSeconds: number;
}

const TSX = `${ROOT}node_modules/.bin/tsx`;
const LOAD = `${ROOT}bench/lib/wait-load.ts`;
/** Backends report their counters at most once a second, and idle ones within 10 s. */
const STATS_SETTLE_MS = 11_000;
const WINDOW_MS = 10_000;

type LoadMessage = { sent?: true; streaming?: true; done?: true; report?: WaitLoadReport };

class LoadProcess {
  readonly seen = { sent: false, streaming: false, done: false };
  private reportWaiter: ((r: WaitLoadReport) => void) | undefined;

  constructor(
    private readonly proc: ChildProcess,
    job: WaitLoadJob,
  ) {
    proc.on('message', (m: LoadMessage) => {
      if (m.sent) this.seen.sent = true;
      if (m.streaming) this.seen.streaming = true;
      if (m.done) this.seen.done = true;
      if (m.report) this.reportWaiter?.(m.report);
    });
    if (job.streams.length === 0) this.seen.streaming = true;
    proc.send({ start: job });
  }

  static start(job: WaitLoadJob): LoadProcess {
    const proc = spawn(TSX, [LOAD], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new LoadProcess(proc, job);
  }

  report(): Promise<WaitLoadReport> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a load process did not report within 20 s')), 20_000);
      this.reportWaiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.proc.send({ report: true });
    });
  }

  stop(): void {
    this.proc.kill('SIGTERM');
  }
}

async function counters(database: string): Promise<{ tx: number; fetched: number }> {
  const rows = await adminQuery<{ tx: string; fetched: string }>(
    `SELECT (xact_commit + xact_rollback)::text AS tx, tup_fetched::text AS fetched
     FROM pg_stat_database WHERE datname = $1`,
    [database],
  );
  return { tx: Number(rows[0]?.tx), fetched: Number(rows[0]?.fetched) };
}

async function windowRates(database: string): Promise<{ tx: number; fetched: number }> {
  const a = await counters(database);
  await sleep(WINDOW_MS);
  const b = await counters(database);
  return { tx: ((b.tx - a.tx) / WINDOW_MS) * 1000, fetched: ((b.fetched - a.fetched) / WINDOW_MS) * 1000 };
}

export async function waitingWorkload(
  polls: number,
  streams: number,
  /** For the API process, e.g. `--cpu-prof` to see where an answer's time goes. */
  nodeArgs: string[] = [],
): Promise<WaitingResult> {
  const waiters = polls + streams;
  const db = await createDatabase('waiting');
  await migrateDatabase(db.url);
  const pool = smallPool(db.url, 1);
  // Queued, and nobody claims them until the workers start.
  const ids = (
    await pool.query<{ id: string }>(
      `INSERT INTO taskd.tasks (id, handler, payload, timeout_ms, max_attempts)
       SELECT gen_random_uuid(), 'simulate', jsonb_build_object('n', g), 240000, 1 FROM generate_series(1, $1) g
       RETURNING id`,
      [waiters],
    )
  ).rows.map((r) => r.id);
  const api = await Service.start({
    databaseUrl: db.url,
    env: { WORKER_CONCURRENCY: '0' },
    memprobeMs: 500,
    nodeArgs,
  });
  const loads: LoadProcess[] = [];
  let workers: Service | undefined;
  try {
    await sleep(STATS_SETTLE_MS);
    const idle = await windowRates(db.name);
    const rssIdle = (await api.memory())?.rss ?? Number.NaN;
    const heapIdle = api.mem.at(-1)?.heapUsed ?? Number.NaN;

    const t0 = Date.now();
    const half = (list: string[], i: number) => list.filter((_, k) => k % 2 === i);
    const pollIds = ids.slice(0, polls);
    const streamIds = ids.slice(polls);
    for (const i of [0, 1])
      loads.push(
        LoadProcess.start({ url: api.url, polls: half(pollIds, i), streams: half(streamIds, i), waitS: 60 }),
      );
    // Every waiter reads its task once as it starts waiting (together with others: a few statements in all), then
    // nothing more; the process's taskd_waiters gauge says when everyone waits.
    const gauge = async () => {
      const text = await (await fetch(`${api.url}/metrics`)).text();
      return Number(/^taskd_waiters (\d+)$/m.exec(text)?.[1] ?? 'NaN');
    };
    await waitFor(
      'every waiter registered',
      async () => {
        if (!loads.every((l) => l.seen.sent && l.seen.streaming)) return undefined;
        // A connection that failed (reported as an error) never waits.
        const failed = (await Promise.all(loads.map((l) => l.report()))).reduce((n, r) => n + r.errors, 0);
        return (await gauge()) + failed >= waiters ? true : undefined;
      },
      40_000,
      200,
    ).catch(async (err: unknown) => {
      const reports = await Promise.all(loads.map((l) => l.report()));
      log(
        `waiting: ${JSON.stringify(loads.map((l) => l.seen))}; ${JSON.stringify(reports.map((r) => ({ errors: r.errors, first: r.firstError })))}`,
      );
      throw err;
    });
    const connectSeconds = (Date.now() - t0) / 1000;
    log(`waiting: ${waiters} waiters registered in ${connectSeconds.toFixed(1)} s`);
    await sleep(STATS_SETTLE_MS);
    const waiting = await windowRates(db.name);
    const rssWaiting = (await api.memory())?.rss ?? Number.NaN;
    const heapWaiting = api.mem.at(-1)?.heapUsed ?? Number.NaN;
    log(`waiting: idle ${JSON.stringify(idle)}/s, with ${waiters} waiting ${JSON.stringify(waiting)}/s`);

    // The tasks now run on another process, 500 at a time, each 50 to 250 ms: a few thousand end each second.
    // (Not all at once: with thousands running, the settle statement's lookup of each row can take a plan that
    // scans every running task, which would measure the settle, not the waiters; see docs/performance.md.)
    workers = await Service.start({
      databaseUrl: db.url,
      env: { WORKER_CONCURRENCY: '500', SIMULATE_MIN_MS: '50', SIMULATE_MAX_MS: '250' },
    });
    await waitFor(
      'every waiter answered',
      () => (loads.every((l) => l.seen.done) ? true : undefined),
      60_000,
      100,
    );
    const reports = await Promise.all(loads.map((l) => l.report()));
    const pollLat = reports.flatMap((r) => r.pollLatenciesMs);
    const streamLat = reports.flatMap((r) => r.streamLatenciesMs);
    const all = [...pollLat, ...streamLat];
    const firstError = reports.find((r) => r.firstError)?.firstError;
    if (firstError) log(`waiting: first error: ${firstError}`);
    return {
      polls,
      streams,
      p50Ms: percentile(all, 50),
      p99Ms: percentile(all, 99),
      maxMs: Math.max(...all),
      pollP99Ms: percentile(pollLat, 99),
      streamP99Ms: percentile(streamLat, 99),
      answeredTerminal: all.length,
      notTerminal: reports.reduce((n, r) => n + r.notTerminal, 0),
      errors: reports.reduce((n, r) => n + r.errors, 0),
      rssPerWaiterKiB: (rssWaiting - rssIdle) / waiters / 1024,
      heapPerWaiterKiB: (heapWaiting - heapIdle) / waiters / 1024,
      rssWaitingMiB: rssWaiting / 2 ** 20,
      idleTxPerSecond: idle.tx,
      waitingTxPerSecond: waiting.tx,
      idleTupFetchedPerSecond: idle.fetched,
      waitingTupFetchedPerSecond: waiting.fetched,
      connectSeconds,
    };
  } finally {
    for (const l of loads) l.stop();
    await workers?.stop();
    await api.stop();
    await pool.end();
    await dropDatabase(db.name);
  }
}
