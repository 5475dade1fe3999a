/**
 * `npx tsx scripts/replica-bench.ts [--seconds N] [--readers N] [--writers N] [--seed N]`: what a read replica
 * (DATABASE_READ_URL) changes under load. Builds its own primary and streaming replica (test/helpers/replica-pair),
 * then runs the same workload twice on fresh databases, against a taskd process without and with the replica:
 * `--readers` connections (64 by default) reading in closed loops (half GET /v1/tasks?limit=50, half
 * GET /v1/tasks/{id} of a random seeded task) while `--writers` loops create tasks that the process runs (noop).
 * Reports read throughput and p50/p99, write throughput, and the primary's load over the measured window:
 * transactions per second and rows read (pg_stat_database), and the CPU seconds of its server processes (/proc).
 * Every loop is bounded in time; everything is stopped and removed at the end. Needs `npm run build` first.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { query, ReplicaPair } from '../test/helpers/replica-pair.js';
import { freePort } from '../test/helpers/ports.js';
import { ServerProcess } from '../test/helpers/server.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    readers: { type: 'string', default: '64' },
    writers: { type: 'string', default: '4' },
    seed: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '2' },
  },
});
const SECONDS = Number(args.seconds);
const READERS = Number(args.readers);
const WRITERS = Number(args.writers);
const SEED = Number(args.seed);
const ROUNDS = Number(args.rounds);
const WARMUP_MS = 3000;
const CLK_TCK = 100; // USER_HZ on Linux

/** Polls `check` until it holds, for at most `timeoutMs`. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** CPU seconds used so far by one process (utime + stime). */
function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** CPU seconds used so far by a cluster's processes: the postmaster, its live children and the exited ones. */
function clusterCpuSeconds(dataDir: string): number {
  const postmaster = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after the command (which may hold spaces) in parentheses: state is field 3, ppid 4, utime 14.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i]));
    if (pid === postmaster) ticks += utime! + stime! + cutime! + cstime!;
    else if (ppid === postmaster) ticks += utime! + stime!;
  }
  return ticks / CLK_TCK;
}

interface DbCounters {
  xacts: number;
  rowsRead: number;
}

async function dbCounters(url: string, database: string): Promise<DbCounters> {
  const [row] = await query<{ xacts: number; rows_read: number }>(
    url,
    `SELECT (xact_commit + xact_rollback)::float8 AS xacts, (tup_returned + tup_fetched)::float8 AS rows_read
       FROM pg_stat_database WHERE datname = $1`,
    [database],
  );
  return { xacts: row!.xacts, rowsRead: row!.rows_read };
}

interface Result {
  label: string;
  reads: number;
  readErrors: number;
  readsPerSecond: number;
  readP50Ms: number;
  readP99Ms: number;
  creates: number;
  createsPerSecond: number;
  primaryXactsPerSecond: number;
  primaryRowsReadPerSecond: number;
  primaryCpuPercent: number;
  /** The primary's load per read: robust to the machine's noise, which moves the rates of all setups. */
  primaryXactsPerRead: number;
  primaryCpuMsPerRead: number;
  taskdCpuPercent: number;
  replicaXactsPerSecond: number | null;
  replicaCpuPercent: number | null;
  readsOnReplica: number | null;
}

interface Setup {
  label: string;
  withReplica: boolean;
  poolSize: number;
}

let runs = 0;

async function run(pair: ReplicaPair, { label, withReplica, poolSize }: Setup): Promise<Result> {
  const database = `taskd_bench_${++runs}_${process.pid}`;
  await pair.createDatabase(database);
  const port = await freePort();
  // Warnings only: a log line per task event would cost the bench's own CPU on the same two cores.
  const server = new ServerProcess({
    PORT: String(port),
    DATABASE_URL: pair.primaryUrl(database),
    DATABASE_READ_URL: withReplica ? pair.replicaUrl(database) : undefined,
    DB_POOL_SIZE: String(poolSize),
    DB_READ_POOL_SIZE: '20',
    WORKER_CONCURRENCY: '200',
    LOG_LEVEL: 'warn',
    LEASE_MS: '15000',
    POLL_INTERVAL_MS: '1000',
    // The bench's own rate of requests is the point: no limit.
    RATE_LIMIT_MAX: '0',
  });
  server.url = `http://127.0.0.1:${port}`;
  await until('the service to listen', 60_000, async () => (await fetch(`${server.url}/readyz`)).ok);
  const http = new Pool(server.url, { connections: READERS + WRITERS });
  const json = async (method: 'GET' | 'POST', p: string, body?: unknown) => {
    const res = await http.request({
      method,
      path: p,
      headers: { 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${p}: ${res.statusCode} ${text.slice(0, 200)}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
  try {
    // Seed: tasks to list and read, run by the process (noop) so that they end as they would in use.
    const ids: string[] = [];
    for (let i = 0; i < SEED; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, SEED - i) }, () => ({ kind: 'noop', input: {} }));
      const created = (await json('POST', '/v1/tasks/batch', { tasks: batch })) as {
        tasks: { id: string }[];
      };
      ids.push(...created.tasks.map((t) => t.id));
    }
    // Measured at a steady state: the seeded tasks have run.
    await until('the seeded tasks to run', 120_000, async () => {
      const page = (await json('GET', '/v1/tasks?state=queued&state=running&limit=1')) as {
        tasks: unknown[];
      };
      return page.tasks.length === 0;
    });
    if (withReplica) {
      await until('reads to go to the replica', 60_000, async () =>
        /^taskd_db_read_replica_up 1$/m.test(await (await fetch(`${server.url}/metrics`)).text()),
      );
    }

    let measuring = false;
    const readLatencies: number[] = [];
    let readErrors = 0;
    let creates = 0;
    const end = performance.now() + WARMUP_MS + SECONDS * 1000;
    const reader = async (loop: number) => {
      let n = loop;
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          if (n++ % 2 === 0) await json('GET', '/v1/tasks?limit=50');
          else await json('GET', `/v1/tasks/${ids[Math.floor(Math.random() * ids.length)]!}`);
          if (measuring) readLatencies.push(performance.now() - t0);
        } catch {
          if (measuring) readErrors++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const writer = async () => {
      while (performance.now() < end) {
        try {
          await json('POST', '/v1/tasks', { kind: 'noop', input: {} });
          if (measuring) creates++;
        } catch {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const loops = [
      ...Array.from({ length: READERS }, (_, i) => reader(i)),
      ...Array.from({ length: WRITERS }, () => writer()),
    ];
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const primaryDir = path.join(pair.dir, 'primary');
    const replicaDir = path.join(pair.dir, 'replica');
    const before = {
      at: performance.now(),
      primary: await dbCounters(pair.primaryUrl(), database),
      replica: withReplica ? await dbCounters(pair.replicaUrl(), database) : undefined,
      primaryCpu: clusterCpuSeconds(primaryDir),
      taskdCpu: processCpuSeconds(server.pid),
      replicaCpu: clusterCpuSeconds(replicaDir),
    };
    measuring = true;
    await Promise.all(loops);
    measuring = false;
    const seconds = (performance.now() - before.at) / 1000;
    const primary = await dbCounters(pair.primaryUrl(), database);
    const replica = withReplica ? await dbCounters(pair.replicaUrl(), database) : undefined;
    const primaryCpu = clusterCpuSeconds(primaryDir) - before.primaryCpu;
    const replicaCpu = clusterCpuSeconds(replicaDir) - before.replicaCpu;
    const taskdCpu = processCpuSeconds(server.pid) - before.taskdCpu;
    let readsOnReplica: number | null = null;
    if (withReplica) {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const m = /^taskd_db_reads_total\{target="replica",reason=""\} (\S+)$/m.exec(metrics);
      readsOnReplica = m ? Number(m[1]) : 0;
    }
    return {
      label,
      reads: readLatencies.length,
      readErrors,
      readsPerSecond: readLatencies.length / seconds,
      readP50Ms: percentile(readLatencies, 50),
      readP99Ms: percentile(readLatencies, 99),
      creates,
      createsPerSecond: creates / seconds,
      primaryXactsPerSecond: (primary.xacts - before.primary.xacts) / seconds,
      primaryRowsReadPerSecond: (primary.rowsRead - before.primary.rowsRead) / seconds,
      primaryCpuPercent: (primaryCpu / seconds) * 100,
      primaryXactsPerRead: (primary.xacts - before.primary.xacts) / readLatencies.length,
      primaryCpuMsPerRead: (primaryCpu * 1000) / readLatencies.length,
      taskdCpuPercent: (taskdCpu / seconds) * 100,
      replicaXactsPerSecond:
        replica && before.replica ? (replica.xacts - before.replica.xacts) / seconds : null,
      replicaCpuPercent: withReplica ? (replicaCpu / seconds) * 100 : null,
      readsOnReplica,
    };
  } finally {
    await http.close();
    await server.close();
    await query(pair.primaryUrl(), `DROP DATABASE ${database}`).catch(() => undefined);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Without the replica at the same pool as with it, without it at the pool and read pool together (the same
 * connections in all: is it the replica or the connections?), and with it.
 */
const SETUPS: Setup[] = [
  { label: 'primary, pool 20', withReplica: false, poolSize: 20 },
  { label: 'primary, pool 40', withReplica: false, poolSize: 40 },
  { label: 'replica, pools 20 + 20', withReplica: true, poolSize: 20 },
];

const pair = await ReplicaPair.start({ maxConnections: 100 });
try {
  const all = new Map<string, Result[]>(SETUPS.map((s) => [s.label, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order, so that what warms up (caches, the machine's other work) favours no setup.
    for (const setup of round % 2 === 0 ? SETUPS : [...SETUPS].reverse()) {
      const result = await run(pair, setup);
      all.get(setup.label)!.push(result);
      console.error(`round ${round + 1} ${setup.label}: ${JSON.stringify(result)}`);
    }
  }
  const fmt = (v: number | null, digits = 1) => (v === null || Number.isNaN(v) ? '—' : v.toFixed(digits));
  const med = (rs: Result[], f: (r: Result) => number | null) => {
    const vs = rs.map(f).filter((v): v is number => v !== null);
    return vs.length === 0 ? null : median(vs);
  };
  console.log(
    `\n${READERS} readers, ${WRITERS} writers, ${SECONDS} s measured after ${WARMUP_MS / 1000} s of warm-up, ${SEED} seeded tasks; median of ${ROUNDS} round(s)\n`,
  );
  const rows: [string, (r: Result) => number | null, number][] = [
    ['reads/s', (r) => r.readsPerSecond, 0],
    ['read p50 (ms)', (r) => r.readP50Ms, 1],
    ['read p99 (ms)', (r) => r.readP99Ms, 1],
    ['read errors', (r) => r.readErrors, 0],
    ['creates/s', (r) => r.createsPerSecond, 0],
    ['primary xact/s', (r) => r.primaryXactsPerSecond, 0],
    ['primary rows read/s', (r) => r.primaryRowsReadPerSecond, 0],
    ['primary CPU (% of a core)', (r) => r.primaryCpuPercent, 0],
    ['primary xact per read', (r) => r.primaryXactsPerRead, 2],
    ['primary CPU ms per read', (r) => r.primaryCpuMsPerRead, 3],
    ['replica xact/s', (r) => r.replicaXactsPerSecond, 0],
    ['replica CPU (% of a core)', (r) => r.replicaCpuPercent, 0],
    ['taskd CPU (% of a core)', (r) => r.taskdCpuPercent, 0],
    ['reads served by the replica', (r) => r.readsOnReplica, 0],
  ];
  const labels = [...all.keys()];
  console.log(`| metric | ${labels.join(' | ')} |`);
  console.log(`| --- | ${labels.map(() => '---').join(' | ')} |`);
  for (const [name, f, digits] of rows) {
    console.log(`| ${name} | ${labels.map((l) => fmt(med(all.get(l)!, f), digits)).join(' | ')} |`);
  }
} finally {
  await pair.destroy();
}
