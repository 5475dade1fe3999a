/**
 * One workload against one peer library, in a process of its own; prints `{"result": {...}}` on stdout.
 * `tsx bench/peers/child.ts <peer> <enqueue|drain|pickup|inflight> '<json args>'`
 *
 * Each peer is used only through its own public API, configured as its documentation recommends for
 * throughput (see CONFIG below, which the report quotes).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { closedLoop, percentile, waitFor } from '../lib/util.js';

type Handler = (payload: { i: number; waitMs?: number }) => Promise<void>;

interface Adapter {
  config: string;
  enqueue(i: number): Promise<void>;
  enqueueMany(count: number, waitMs?: number): Promise<void>;
  startWorker(concurrency: number, handler: Handler): Promise<void>;
  /**
   * Whether any job is not completed yet (queued or running). Asked every 20 ms during a drain, so asked cheaply:
   * a count over a table of 100,000 jobs takes the database's time from the drain it measures.
   */
  unfinished(): Promise<boolean>;
  close(): Promise<void>;
}

const QUEUE = 'bench';
const POOL = 20;

async function graphile(databaseUrl: string, concurrency: number): Promise<Adapter> {
  const logger = new Logger(() => () => {});
  const utils: WorkerUtils = await makeWorkerUtils({
    connectionString: databaseUrl,
    logger,
    maxPoolSize: POOL,
  });
  await utils.migrate();
  const sql = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  let runner: Runner | undefined;
  // Local queue of concurrency + 1 (the documented starting point) but at least 500, since these jobs are tiny
  // and many; completion and failure batching on (delay 0: flushed each tick).
  const localQueue = Math.max(500, concurrency + 1);
  return {
    config: `run({ concurrency: ${concurrency}, maxPoolSize: ${POOL}, preset.worker: { localQueue: { size: ${localQueue} }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } }); enqueue with workerUtils.addJob, fill with addJobs`,
    async enqueue(i) {
      await utils.addJob(QUEUE, { i });
    },
    async enqueueMany(count, waitMs) {
      for (let at = 0; at < count; at += 1000) {
        const n = Math.min(1000, count - at);
        await utils.addJobs(
          Array.from({ length: n }, (_, k) => ({ identifier: QUEUE, payload: { i: at + k, waitMs } })),
        );
      }
    },
    async startWorker(c, handler) {
      runner = await run({
        connectionString: databaseUrl,
        concurrency: c,
        maxPoolSize: POOL,
        noHandleSignals: true,
        logger,
        taskList: { [QUEUE]: async (payload) => handler(payload as { i: number; waitMs?: number }) },
        preset: {
          worker: {
            localQueue: { size: Math.max(500, c + 1) },
            completeJobBatchDelay: 0,
            failJobBatchDelay: 0,
          },
        },
      });
    },
    async unfinished() {
      // Completed jobs are deleted: any row left is a job not done. (A count read the whole table, 7 ms at
      // 100,000 jobs, every 20 ms: a fifth of the drain's time on one of PostgreSQL's two cores.)
      const rows = (
        await sql.query<{ any: boolean }>(
          'SELECT EXISTS (SELECT 1 FROM graphile_worker._private_jobs) AS any',
        )
      ).rows;
      return rows[0]?.any !== false;
    },
    async close() {
      await runner?.stop();
      await utils.release();
      await sql.end();
    },
  };
}

async function pgBoss(databaseUrl: string, concurrency: number): Promise<Adapter> {
  const boss = new PgBoss({ connectionString: databaseUrl, max: POOL, schedule: false });
  boss.on('error', (err: unknown) => console.error('pg-boss error', err));
  await boss.start();
  await boss.createQueue(QUEUE);
  const sql = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  // Batch fetch: one work() loop fetching (and completing) up to batchSize jobs at a time, polling at the
  // shortest interval pg-boss allows (0.5 s).
  const batchSize = Math.max(500, concurrency);
  return {
    config: `work('${QUEUE}', { batchSize: ${batchSize}, pollingIntervalSeconds: 0.5 }, handler over the batch); new PgBoss({ max: ${POOL}, schedule: false }); enqueue with send, fill with insert`,
    async enqueue(i) {
      await boss.send(QUEUE, { i });
    },
    async enqueueMany(count, waitMs) {
      for (let at = 0; at < count; at += 1000) {
        const n = Math.min(1000, count - at);
        await boss.insert(
          Array.from({ length: n }, (_, k) => ({ name: QUEUE, data: { i: at + k, waitMs } })),
        );
      }
    },
    async startWorker(c, handler) {
      await boss.work<{ i: number; waitMs?: number }>(
        QUEUE,
        { batchSize: Math.max(500, c), pollingIntervalSeconds: 0.5 },
        async (jobs) => {
          await Promise.all(jobs.map((j) => handler(j.data)));
        },
      );
    },
    async unfinished() {
      const rows = (
        await sql.query<{ any: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')) AS any`,
          [QUEUE],
        )
      ).rows;
      return rows[0]?.any !== false;
    },
    async close() {
      await boss.stop({ graceful: false, wait: true, timeout: 5000 });
      await sql.end();
    },
  };
}

function bullmq(concurrency: number): Adapter {
  // An ESM process must hand BullMQ constructed ioredis clients; one for the queue, one for the worker.
  const connect = () => new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null });
  const connection = connect();
  const prefix = `taskd-bench-${randomBytes(4).toString('hex')}`;
  const queue = new Queue(QUEUE, {
    connection,
    prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: 1000 },
  });
  let worker: Worker | undefined;
  return {
    config: `new Worker(queue, handler, { concurrency: ${concurrency} }); jobs { removeOnComplete: true, removeOnFail: 1000 }; enqueue with queue.add, fill with addBulk`,
    async enqueue(i) {
      await queue.add(QUEUE, { i });
    },
    async enqueueMany(count, waitMs) {
      for (let at = 0; at < count; at += 1000) {
        const n = Math.min(1000, count - at);
        await queue.addBulk(
          Array.from({ length: n }, (_, k) => ({ name: QUEUE, data: { i: at + k, waitMs } })),
        );
      }
    },
    async startWorker(c, handler) {
      worker = new Worker(QUEUE, async (job) => handler(job.data as { i: number; waitMs?: number }), {
        connection: connect(),
        prefix,
        concurrency: c,
      });
      worker.on('error', (err) => console.error('bullmq worker error', err));
      await worker.waitUntilReady();
    },
    async unfinished() {
      const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
      return Object.values(c).some((n) => n > 0);
    },
    async close() {
      await worker?.close(true);
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    },
  };
}

function adapter(peer: string, databaseUrl: string | undefined, concurrency: number): Promise<Adapter> {
  switch (peer) {
    case 'graphile-worker':
      return graphile(databaseUrl!, concurrency);
    case 'pg-boss':
      return pgBoss(databaseUrl!, concurrency);
    case 'bullmq':
      return Promise.resolve(bullmq(concurrency));
    default:
      throw new Error(`unknown peer ${peer}`);
  }
}

const DRAIN_CONCURRENCY = 64;

async function main(): Promise<void> {
  const [peer = '', workload = '', raw = '{}'] = process.argv.slice(2);
  const args = JSON.parse(raw) as {
    databaseUrl?: string;
    callers?: number;
    durationMs?: number;
    jobs?: number;
    count?: number;
    waitMs?: number;
  };
  let result: Record<string, unknown>;
  if (workload === 'enqueue') {
    const a = await adapter(peer, args.databaseUrl, DRAIN_CONCURRENCY);
    let i = 0;
    await closedLoop(args.callers!, 500, () => a.enqueue(i++));
    const r = await closedLoop(args.callers!, args.durationMs!, () => a.enqueue(i++));
    result = {
      enqueuePerSecond: (r.latenciesMs.length / r.elapsedMs) * 1000,
      enqueueP50Ms: percentile(r.latenciesMs, 50),
      enqueueP99Ms: percentile(r.latenciesMs, 99),
      enqueueErrors: r.errors,
      config: a.config,
    };
    await a.close();
  } else if (workload === 'drain') {
    const a = await adapter(peer, args.databaseUrl, DRAIN_CONCURRENCY);
    await a.enqueueMany(args.jobs!);
    let first = 0;
    let done = 0;
    // From the worker's start, as taskd's drain from start counts from the spawn of `npm start`.
    const workerStart = performance.now();
    await a.startWorker(DRAIN_CONCURRENCY, () => {
      if (first === 0) first = performance.now();
      done++;
      return Promise.resolve();
    });
    await waitFor('drain', async () => ((await a.unfinished()) ? undefined : true), 300_000, 20);
    const end = performance.now();
    result = {
      drainPerSecond: (args.jobs! / (end - first)) * 1000,
      drainFromStartPerSecond: (args.jobs! / (end - workerStart)) * 1000,
      drainHandled: done,
      config: a.config,
    };
    await a.close();
  } else if (workload === 'pickup') {
    const a = await adapter(peer, args.databaseUrl, DRAIN_CONCURRENCY);
    const startedAt = new Map<number, number>();
    const waiters = new Map<number, () => void>();
    await a.startWorker(DRAIN_CONCURRENCY, ({ i }) => {
      startedAt.set(i, performance.now());
      waiters.get(i)?.();
      return Promise.resolve();
    });
    const latencies: number[] = [];
    for (let i = 0; i < args.count! + 10; i++) {
      const sent = performance.now();
      const started = new Promise<void>((resolve) => waiters.set(i, resolve));
      await a.enqueue(i);
      if (!startedAt.has(i)) await Promise.race([started, sleep(5000)]);
      waiters.delete(i);
      const at = startedAt.get(i);
      if (at === undefined) throw new Error(`job ${i} did not start within 5 s`);
      if (i >= 10) latencies.push(at - sent);
      await sleep(20);
    }
    result = {
      pickupP50Ms: percentile(latencies, 50),
      pickupP95Ms: percentile(latencies, 95),
      pickupP99Ms: percentile(latencies, 99),
    };
    await a.close();
  } else if (workload === 'inflight') {
    const jobs = args.jobs!;
    const a = await adapter(peer, args.databaseUrl, jobs);
    await a.enqueueMany(jobs, args.waitMs);
    let peakRss = 0;
    let peakHeap = 0;
    const sample = () => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    };
    await sleep(500);
    const baseline = process.memoryUsage().rss;
    const sampler = setInterval(sample, 250);
    let running = 0;
    let maxRunning = 0;
    await a.startWorker(jobs, async ({ waitMs }) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(waitMs ?? 0);
      running--;
    });
    const allStarted = await waitFor(
      'all started',
      () => (maxRunning === jobs ? true : undefined),
      args.waitMs! + 60_000,
      100,
    )
      .then(() => true)
      .catch(() => false);
    const allCompleted = await waitFor(
      'all completed',
      async () => ((await a.unfinished()) ? undefined : true),
      args.waitMs! + 120_000,
      250,
    )
      .then(() => true)
      .catch(() => false);
    clearInterval(sampler);
    sample();
    result = {
      inflightBaselineRssMiB: baseline / 2 ** 20,
      inflightPeakRssMiB: peakRss / 2 ** 20,
      inflightPeakHeapUsedMiB: peakHeap / 2 ** 20,
      inflightMaxRunning: maxRunning,
      inflightAllStarted: allStarted,
      inflightAllCompleted: allCompleted,
    };
    await a.close();
  } else throw new Error(`unknown workload ${workload}`);
  process.stdout.write(`${JSON.stringify({ result })}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
