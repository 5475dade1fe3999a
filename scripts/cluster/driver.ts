/**
 * The scenarios of the cluster harness, run inside the load namespace by run.ts (which made the namespaces and
 * started PostgreSQL). Starts the real service, `node dist/main.js`, in the taskd namespaces, measures
 * throughput with 1, 2 and 3 taskd hosts, then injects faults between hosts and counts, from the database and
 * from the handler's own records, that no task was lost and none completed twice.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { PG_PORT, TASKD_HOSTS, TASKD_PORT, ipOf, namespaces, switchPort, type HostName } from './topology.js';

const runId = Number(process.env.CLUSTER_RUN_ID);
const dir = process.env.CLUSTER_DIR ?? '';
const pgPid = Number(process.env.CLUSTER_PG_PID);
if (!runId || !dir || !pgPid) throw new Error('driver.ts is started by scripts/cluster/run.ts');
const ns = namespaces(runId);
const measure = process.argv.includes('--measure');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const repo = path.resolve(import.meta.dirname, '..', '..');
const LEASE_MS = 2000;
const FAKETIME_LIB = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
].find((f) => existsSync(f));

const pgUrl = (db: string) => `postgres://postgres@${ipOf('pg')}:${PG_PORT}/${db}`;
const admin = new pg.Pool({ connectionString: pgUrl('postgres'), max: 2 });

// ---------------------------------------------------------------------------------------------------------------
// Waiting, bounded

async function until<T>(
  what: string,
  boundMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = performance.now() + boundMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (performance.now() > deadline) throw new Error(`timed out after ${boundMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// taskd hosts

interface LogLine {
  msg?: string;
  worker_id?: string;
  task_id?: string;
  [k: string]: unknown;
}

let seq = 0;
class Host {
  readonly logs: LogLine[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly url: string;
  readonly recordFile: string;

  constructor(
    readonly name: HostName,
    db: string,
    env: Record<string, string>,
  ) {
    this.url = `http://${ipOf(name)}:${TASKD_PORT}`;
    const n = ++seq;
    this.recordFile = path.join(dir, `records-${name}-${n}.log`);
    const logFile = createWriteStream(path.join(dir, `${db}-${name}-${n}.log`));
    this.child = spawn('ip', ['netns', 'exec', ns[name], process.execPath, 'dist/main.js'], {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        DATABASE_URL: pgUrl(db),
        PORT: String(TASKD_PORT),
        HOST: '0.0.0.0',
        LOG_LEVEL: 'info',
        HANDLERS_DIR: path.join(repo, 'scripts/cluster/handlers'),
        CLUSTER_RECORD_FILE: this.recordFile,
        CLUSTER_HOST: name,
        ...env,
      },
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      logFile.write(line + '\n');
      if (!line.includes('"msg":"task ')) {
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          // not JSON
        }
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => logFile.write(d));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  workerIds(): string[] {
    return this.logs.filter((l) => l.msg === 'worker registered').map((l) => String(l.worker_id));
  }

  count(msg: string): number {
    return this.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(msg)).length;
  }

  async ready(): Promise<this> {
    await until(`${this.name} ready`, 60_000, async () => {
      if (this.child.exitCode !== null) throw new Error(`${this.name} exited with ${this.child.exitCode}`);
      try {
        const r = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) });
        return r.status === 200;
      } catch {
        return false;
      }
    });
    return this;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

async function startHosts(
  db: string,
  names: HostName[],
  env: (h: HostName) => Record<string, string>,
): Promise<Host[]> {
  // One first: it runs the migrations.
  const first = await new Host(names[0]!, db, env(names[0]!)).ready();
  const rest = await Promise.all(names.slice(1).map((h) => new Host(h, db, env(h)).ready()));
  return [first, ...rest];
}

async function createDb(name: string): Promise<pg.Pool> {
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  return new pg.Pool({ connectionString: pgUrl(name), max: 3 });
}

async function api(url: string, method: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await r.text();
  return { status: r.status, json: text ? (JSON.parse(text) as unknown) : null };
}

// ---------------------------------------------------------------------------------------------------------------
// What the processes and PostgreSQL spent

const TICK_S = 1 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

function procTimes(pid: number): { self: number; children: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17), 1-based from pid.
    const n = (i: number) => Number(f[i - 3]);
    return { self: n(14) + n(15), children: n(16) + n(17), ppid: n(4) };
  } catch {
    return undefined;
  }
}

/** CPU seconds of the PostgreSQL server: the postmaster, its live children, and the children it has reaped. */
function pgCpuSeconds(): number {
  const root = procTimes(pgPid);
  if (!root) return 0;
  let ticks = root.self + root.children;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = procTimes(Number(name));
    if (p && p.ppid === pgPid) ticks += p.self;
  }
  return ticks * TICK_S;
}

function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) * TICK_S, total: total * TICK_S };
}

interface PgStats {
  /** Exact at once: the WAL position and the next transaction id (write transactions), unlike pg_stat_*. */
  lsn_bytes: number;
  next_xid: number;
  xact_commit: number;
  tup_inserted: number;
  tup_updated: number;
  tup_deleted: number;
  blks_read: number;
  deadlocks: number;
  wal_records: number;
  wal_fpi: number;
  wal_bytes: number;
  wal_write: number;
  wal_sync: number;
  wal_write_time: number;
  wal_sync_time: number;
}

async function pgStats(db: string): Promise<PgStats> {
  const { rows } = await admin.query<Record<string, string>>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS lsn_bytes,
            txid_snapshot_xmax(txid_current_snapshot()) AS next_xid, d.xact_commit, d.tup_inserted, d.tup_updated, d.tup_deleted, d.blks_read, d.deadlocks,
            w.wal_records, w.wal_fpi, w.wal_bytes, w.wal_write, w.wal_sync, w.wal_write_time, w.wal_sync_time
       FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = $1`,
    [db],
  );
  const r = rows[0]!;
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)])) as unknown as PgStats;
}

/** Samples what PostgreSQL's client backends are doing, ten times a second: on CPU or waiting, and for what. */
class WaitSampler {
  readonly counts = new Map<string, number>();
  readonly locks = new Map<string, number>();
  samples = 0;
  private stopped = false;
  private loop: Promise<void>;
  constructor(db: string) {
    this.loop = (async () => {
      while (!this.stopped) {
        const { rows } = await admin.query<{ what: string; n: string }>(
          `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what, count(*) AS n
             FROM pg_stat_activity
            WHERE datname = $1 AND state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
              AND query NOT LIKE '%pg_stat_activity%'
            GROUP BY 1`,
          [db],
        );
        this.samples++;
        for (const r of rows) this.counts.set(r.what, (this.counts.get(r.what) ?? 0) + Number(r.n));
        // Which lock the waiters wait for: an `object` lock on pg_database with objid 0 is the one every
        // transaction that has sent NOTIFY takes while it commits (PostgreSQL's notification queue).
        const locks = await admin.query<{ what: string; n: string }>(
          `SELECT l.locktype || coalesce(':' || l.classid::regclass::text, '') || coalesce(':' || l.relation::regclass::text, '') AS what,
                  count(*) AS n
             FROM pg_locks l WHERE NOT l.granted GROUP BY 1`,
        );
        for (const r of locks.rows) this.locks.set(r.what, (this.locks.get(r.what) ?? 0) + Number(r.n));
        await sleep(100);
      }
    })();
  }
  async stop(): Promise<{
    samples: number;
    activeBackendsAvg: number;
    top: [string, number][];
    lockWaitersAvg: Record<string, number>;
  }> {
    this.stopped = true;
    await this.loop;
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    const top = [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, v]): [string, number] => [k, Math.round((1000 * v) / Math.max(total, 1)) / 10]);
    const lockWaitersAvg = Object.fromEntries(
      [...this.locks.entries()].map(([k, v]) => [k, round(v / Math.max(this.samples, 1), 2)]),
    );
    return {
      samples: this.samples,
      activeBackendsAvg: round(total / Math.max(this.samples, 1), 2),
      top,
      lockWaitersAvg,
    };
  }
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

interface Spend {
  wallS: number;
  pgCores: number;
  taskdCores: number;
  loadCores: number;
  machineBusyCores: number;
  writeXactsPerTask: number;
  wal: {
    bytesPerTask: number;
    recordsPerTask: number;
    fpiPerTask: number;
    syncs: number;
    syncMs: number;
    writeMs: number;
  };
  commitsPerTask: number;
  waits: Awaited<ReturnType<WaitSampler['stop']>>;
}

async function spend(db: string, hosts: Host[], tasks: number, phase: () => Promise<void>): Promise<Spend> {
  const sampler = new WaitSampler(db);
  const s0 = await pgStats(db);
  const pg0 = pgCpuSeconds();
  const m0 = machineCpu();
  const t0 = hosts.map((h) => procTimes(h.pid)?.self ?? 0);
  const l0 = process.cpuUsage();
  const w0 = performance.now();
  await phase();
  const l1 = process.cpuUsage(l0);
  const wallS = (performance.now() - w0) / 1000;
  const t1 = hosts.map((h) => procTimes(h.pid)?.self ?? 0);
  const m1 = machineCpu();
  const pg1 = pgCpuSeconds();
  const s1 = await pgStats(db);
  const waits = await sampler.stop();
  const taskdS = t1.reduce((a, v, i) => a + (v - t0[i]!), 0) * TICK_S;
  const d = (k: keyof PgStats) => s1[k] - s0[k];
  return {
    wallS: round(wallS, 2),
    pgCores: round((pg1 - pg0) / wallS, 2),
    taskdCores: round(taskdS / wallS, 2),
    loadCores: round((l1.user + l1.system) / 1e6 / wallS, 2),
    machineBusyCores: round((m1.busy - m0.busy) / wallS, 2),
    wal: {
      bytesPerTask: Math.round(d('lsn_bytes') / tasks),
      // pg_stat_wal lags by up to the stats flush interval: records and syncs are approximate for short phases.
      recordsPerTask: round(d('wal_records') / tasks, 1),
      fpiPerTask: round(d('wal_fpi') / tasks, 2),
      syncs: d('wal_sync'),
      syncMs: round(d('wal_sync_time'), 0),
      writeMs: round(d('wal_write_time'), 0),
    },
    commitsPerTask: round(d('xact_commit') / tasks, 3),
    writeXactsPerTask: round(d('next_xid') / tasks, 3),
    waits,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Checks

const failures: string[] = [];
function check(what: string, ok: boolean, detail = ''): void {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
  if (!ok) failures.push(what);
}

// ---------------------------------------------------------------------------------------------------------------
// Throughput with 1, 2 and 3 taskd hosts

async function throughput(n: number, total: number, clients: number) {
  const db = `tp${n}`;
  const pool = await createDb(db);
  const names = TASKD_HOSTS.slice(0, n);
  const hosts = await startHosts(db, names, () => ({ WORKER_CONCURRENCY: '500' }));
  try {
    const paused = await api(`${hosts[0]!.url}/v1/queues/default`, 'PATCH', { paused: true });
    if (paused.status !== 200)
      throw new Error(`pausing the queue: ${paused.status} ${JSON.stringify(paused.json)}`);
    // Create: `clients` keep-alive clients, each sending POST /v1/tasks one after another, round-robin over hosts.
    let sent = 0;
    let accepted = 0;
    const other: Record<string, number> = {};
    const create = await spend(db, hosts, total, async () => {
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (sent < total) {
            const host = hosts[sent++ % hosts.length]!;
            try {
              const r = await api(`${host.url}/v1/tasks`, 'POST', { kind: 'noop' });
              if (r.status === 201) accepted++;
              else other[r.status] = (other[r.status] ?? 0) + 1;
            } catch (err) {
              const code = (err as Error).name;
              other[code] = (other[code] ?? 0) + 1;
            }
          }
        }),
      );
    });
    // Create in batches: POST /v1/tasks/batch of 100, 4 clients: what PostgreSQL takes when requests are cheap.
    let batches = 0;
    const batchOf = 100;
    const createBatch = await spend(db, hosts, total, async () => {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (batches * batchOf < total) {
            const host = hosts[batches++ % hosts.length]!;
            const r = await api(`${host.url}/v1/tasks/batch`, 'POST', {
              tasks: Array.from({ length: batchOf }, () => ({ kind: 'noop' })),
            });
            if (r.status === 201) accepted += batchOf;
            else other[`batch ${r.status}`] = (other[`batch ${r.status}`] ?? 0) + 1;
          }
        }),
      );
    });
    // Drain: the queue resumed, every host claims until none is left.
    const drain = await spend(db, hosts, accepted, async () => {
      const resumed = await api(`${hosts[0]!.url}/v1/queues/default`, 'PATCH', { paused: false });
      if (resumed.status !== 200) throw new Error(`resuming the queue: ${resumed.status}`);
      await until(`${accepted} tasks completed`, 180_000, async () => {
        const { rows } = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM taskd.tasks WHERE state = 'completed'`,
        );
        return rows[0]!.n >= accepted ? true : undefined;
      });
    });
    const { rows } = await pool.query<{ twice: number; per_host: Record<string, number> }>(
      `SELECT (SELECT count(*)::int FROM taskd.tasks
                WHERE (SELECT count(*) FROM jsonb_array_elements(history) e WHERE e->>'outcome' = 'completed') <> 1)
                AS twice,
              (SELECT jsonb_object_agg(owner, n) FROM (SELECT owner, count(*) AS n FROM taskd.tasks GROUP BY owner) o)
                AS per_host`,
    );
    const result = {
      hosts: n,
      tasks: total,
      accepted,
      otherAnswers: other,
      createPerS: Math.round(total / create.wallS),
      createBatchPerS: Math.round((batches * batchOf) / createBatch.wallS),
      drainPerS: Math.round(accepted / drain.wallS),
      create,
      createBatch,
      drain,
      tasksNotCompletedExactlyOnce: rows[0]!.twice,
      perWorker: Object.values(rows[0]!.per_host ?? {}),
    };
    console.log(
      `throughput, ${n} taskd host(s): create ${result.createPerS}/s (PostgreSQL ${create.pgCores} cores, taskd ` +
        `${create.taskdCores}, load ${create.loadCores}, machine ${create.machineBusyCores} of 2), in batches ` +
        `${result.createBatchPerS}/s (PostgreSQL ${createBatch.pgCores} cores), drain ${result.drainPerS}/s (PostgreSQL ` +
        `${drain.pgCores} cores, taskd ${drain.taskdCores}, machine ${drain.machineBusyCores})`,
    );
    console.log(
      `  create waits ${JSON.stringify(create.waits.top)} locks ${JSON.stringify(create.waits.lockWaitersAvg)}`,
    );
    console.log(
      `  drain waits ${JSON.stringify(drain.waits.top)} locks ${JSON.stringify(drain.waits.lockWaitersAvg)}`,
    );
    check(`${n} host(s): every create answered 201`, accepted === 2 * total, JSON.stringify(other));
    check(`${n} host(s): every task completed exactly once`, result.tasksNotCompletedExactlyOnce === 0);
    return result;
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await pool.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Faults between hosts

type Fault = 'link-down' | 'partition' | 'kill' | 'clock-skew';

interface HistoryEntry {
  attempt: number;
  worker_id: string;
  started_at: string;
  finished_at: string;
  outcome: string;
  error: { type: string } | null;
}

async function faultCase(fault: Fault, tasks: number) {
  const db = `f_${fault.replace('-', '_')}`;
  const pool = await createDb(db);
  const skew: Partial<Record<HostName, string>> = fault === 'clock-skew' ? { t1: '+8s', t2: '-8s' } : {};
  const env = (h: HostName): Record<string, string> => ({
    LEASE_MS: String(LEASE_MS),
    WORKER_CONCURRENCY: '20',
    RETRY_BACKOFF_BASE_MS: '100',
    RETRY_BACKOFF_MAX_MS: '500',
    SHUTDOWN_GRACE_MS: '2000',
    ...(skew[h] && FAKETIME_LIB
      ? {
          LD_PRELOAD: FAKETIME_LIB,
          FAKETIME: skew[h],
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
          FAKETIME_NO_CACHE: '1',
        }
      : {}),
  });
  const hosts = await startHosts(db, TASKD_HOSTS, env);
  const all = [...hosts];
  const victim = hosts[0]!; // t1
  console.log(`fault: ${fault}${fault === 'clock-skew' ? ' (t1 +8 s, t2 -8 s, then t1 killed)' : ' of t1'}`);
  try {
    if (fault === 'clock-skew') {
      const clocks = await Promise.all(
        hosts.map(async (h) => {
          const r = await fetch(`${h.url}/readyz`);
          return Date.parse(r.headers.get('date') ?? '') - Date.now();
        }),
      );
      check(
        'the skewed hosts run with their clocks off (HTTP Date header vs the load host)',
        clocks[0]! > 5000 && clocks[1]! < -5000,
        clocks.join(' / ') + ' ms',
      );
    }
    // The work: tasks of 300-1500 ms, created through the hosts that stay up.
    for (let i = 0; i < tasks; i += 200) {
      const batch = Array.from({ length: Math.min(200, tasks - i) }, () => ({
        kind: 'record',
        input: { ms: 300 + Math.floor(Math.random() * 1200) },
        max_attempts: 3,
      }));
      const r = await api(`${hosts[1 + ((i / 200) % 2)]!.url}/v1/tasks/batch`, 'POST', { tasks: batch });
      if (r.status !== 201) throw new Error(`batch create: ${r.status} ${JSON.stringify(r.json)}`);
    }
    const oldIds = victim.workerIds();
    await until('t1 running tasks', 20_000, async () => {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM taskd.tasks WHERE state = 'running' AND owner = ANY($1::uuid[])`,
        [oldIds],
      );
      return rows[0]!.n >= 10 ? true : undefined;
    });
    if (fault === 'clock-skew') {
      await sleep(3 * LEASE_MS); // three leases of ordinary work with the clocks off
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM taskd.tasks t, jsonb_array_elements(t.history) e
          WHERE e->'error'->>'type' = 'worker_lost'`,
      );
      check(
        'no lease misjudged while the clocks are off (no worker_lost, no lease lost)',
        rows[0]!.n === 0 && all.every((h) => h.count('lease lost') === 0),
        `${rows[0]!.n} worker_lost`,
      );
    }

    // The fault.
    const running = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM taskd.tasks WHERE state = 'running' AND owner = ANY($1::uuid[])`,
      [oldIds],
    );
    if (fault === 'link-down') spawnSync('ip', ['-n', ns.t1, 'link', 'set', 'eth0', 'down']);
    if (fault === 'partition') spawnSync('ip', ['-n', ns.sw, 'link', 'set', switchPort('t1'), 'nomaster']);
    if (fault === 'kill' || fault === 'clock-skew') await victim.kill9();
    const faultAt = (await pool.query<{ t: Date }>('SELECT now() AS t')).rows[0]!.t;
    const cutFor = 3 * LEASE_MS;
    await sleep(cutFor);
    if (fault === 'link-down') spawnSync('ip', ['-n', ns.t1, 'link', 'set', 'eth0', 'up']);
    if (fault === 'partition')
      spawnSync('ip', ['-n', ns.sw, 'link', 'set', switchPort('t1'), 'master', 'br0']);
    let back = victim;
    if (fault === 'kill' || fault === 'clock-skew') {
      back = new Host('t1', db, env('t1'));
      all.push(back);
    }
    const restoredAt = (await pool.query<{ t: Date }>('SELECT now() AS t')).rows[0]!.t;

    await until(`all ${tasks} tasks finished`, 120_000, async () => {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM taskd.tasks WHERE state NOT IN ('completed', 'failed', 'cancelled')`,
      );
      return rows[0]!.n === 0 ? true : undefined;
    });
    // The host that was cut off comes back: it learns that its lease is gone, registers again, and tries to store
    // the outcomes of the runs that finished while it was away. Wait until it has (bounded).
    // The records of this case's processes only (earlier cases' files are in the same directory).
    const records = () =>
      all
        .filter((h) => existsSync(h.recordFile))
        .flatMap((h) => readFileSync(h.recordFile, 'utf8').split('\n').filter(Boolean))
        .map((l) => {
          const [task, attempt, host] = l.split(' ');
          return { task: task!, attempt: Number(attempt), host: host! };
        });
    const { rows: taskRows } = await pool.query<{ id: string; state: string; history: HistoryEntry[] }>(
      `SELECT id, state::text AS state, history FROM taskd.tasks`,
    );
    const completedRun = new Map<string, HistoryEntry>();
    let duplicates = 0;
    for (const t of taskRows) {
      const done = t.history.filter((e) => e.outcome === 'completed');
      if (done.length > 1) duplicates++;
      if (done[0]) completedRun.set(t.id, done[0]);
    }
    const lateRuns = () =>
      records().filter((r) => {
        const c = completedRun.get(r.task);
        return !c || c.attempt !== r.attempt;
      });
    if (fault === 'link-down' || fault === 'partition') {
      const state = () =>
        `lease lost ${victim.count('lease lost')}, registrations ${victim.workerIds().length}, ` +
        `refused ${victim.count('outcome discarded: the run was already ended')} of ${lateRuns().length} late runs`;
      try {
        await until('t1 back: lease lost, registered again, late outcomes refused', 60_000, () =>
          victim.count('lease lost') >= 1 &&
          victim.workerIds().length > oldIds.length &&
          victim.count('outcome discarded: the run was already ended') >= lateRuns().length
            ? true
            : undefined,
        );
      } catch (err) {
        console.log(`  ${(err as Error).message}: ${state()}; t1's last log lines:`);
        for (const l of victim.logs.slice(-15)) console.log(`    ${JSON.stringify(l)}`);
        throw err;
      }
    } else {
      await back.ready();
    }

    const hostOfWorker = new Map<string, string>();
    for (const h of all) for (const id of h.workerIds()) hostOfWorker.set(id, h.name);
    const recs = records();
    const recorded = new Set(recs.map((r) => `${r.task}/${r.attempt}/${r.host}`));
    const lost = taskRows.filter((t) => t.state !== 'completed').length;
    const unbacked = [...completedRun.entries()].filter(
      ([task, e]) => !recorded.has(`${task}/${e.attempt}/${hostOfWorker.get(e.worker_id) ?? '?'}`),
    ).length;
    const late = lateRuns();
    const entries = taskRows.flatMap((t) => t.history);
    const recoveredRuns = entries.filter((e) => e.error?.type === 'worker_lost');
    const wronglyReaped = recoveredRuns.filter((e) => !oldIds.includes(e.worker_id)).length;
    const recoveredMs = recoveredRuns.map((e) => Date.parse(e.finished_at) - faultAt.getTime());
    const claimsWhileCut = entries.filter(
      (e) => oldIds.includes(e.worker_id) && Date.parse(e.started_at) > faultAt.getTime(),
    ).length;
    const stillRunningOld = await pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM taskd.tasks WHERE owner = ANY($1::uuid[]) AND state = 'running'`,
      [oldIds],
    );
    const completedByVictimAfter = [...completedRun.values()].filter(
      (e) => hostOfWorker.get(e.worker_id) === 't1' && !oldIds.includes(e.worker_id),
    ).length;
    const result = {
      fault,
      tasks,
      faultForMs: cutFor,
      leaseMs: LEASE_MS,
      victimRunningAtFault: running.rows[0]!.n,
      completed: completedRun.size,
      lost,
      duplicateCompletions: duplicates,
      completionsWithoutARecordedRun: unbacked,
      handlerRuns: recs.length,
      lateOutcomesFenced: late.length,
      lateOutcomesRefusedPerLog: victim.count('outcome discarded: the run was already ended'),
      runsRecoveredByOthers: recoveredRuns.length,
      runsRecoveredOfHealthyHosts: wronglyReaped,
      recoveredAfterFaultMs: {
        min: recoveredMs.length ? Math.min(...recoveredMs) : null,
        max: recoveredMs.length ? Math.max(...recoveredMs) : null,
      },
      claimsByCutOffWorkerAfterFault: claimsWhileCut + stillRunningOld.rows[0]!.n,
      victimCompletedAfterReturn: completedByVictimAfter,
      restoredAfterMs: restoredAt.getTime() - faultAt.getTime(),
    };
    console.log(`  ${JSON.stringify(result)}`);
    check(`${fault}: zero lost (every task completed)`, lost === 0, `${lost} of ${tasks} not completed`);
    check(`${fault}: zero duplicate completions`, duplicates === 0, String(duplicates));
    check(`${fault}: every completion is a run the handler recorded`, unbacked === 0, String(unbacked));
    check(
      `${fault}: t1's running tasks were recovered by the others`,
      recoveredRuns.length >= 10 && wronglyReaped === 0,
      `${recoveredRuns.length} recovered, ${wronglyReaped} of healthy hosts`,
    );
    check(
      `${fault}: recovered within LEASE_MS + a reaper interval (+1 s)`,
      recoveredMs.every((ms) => ms <= LEASE_MS * 1.25 + 1000),
      `max ${result.recoveredAfterFaultMs.max} ms`,
    );
    check(
      `${fault}: the cut-off worker claimed nothing after the fault`,
      result.claimsByCutOffWorkerAfterFault === 0,
    );
    if (fault === 'link-down' || fault === 'partition') {
      check(
        `${fault}: t1's late outcomes were fenced off (and it said so)`,
        late.length >= 1 && result.lateOutcomesRefusedPerLog >= late.length,
        `${late.length} late runs, ${result.lateOutcomesRefusedPerLog} refused`,
      );
    }
    return result;
  } finally {
    await Promise.all(all.map((h) => h.stop()));
    await pool.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const build = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: repo, stdio: 'inherit' });
  if (build.status !== 0) return 1;
  await until('PostgreSQL', 30_000, async () => {
    try {
      await admin.query('SELECT 1');
      return true;
    } catch {
      return undefined;
    }
  });
  const started = performance.now();
  const results: { throughput: unknown[]; faults: unknown[] } = { throughput: [], faults: [] };
  const total = measure ? 20_000 : 3000;
  if (!only || only === 'throughput') {
    for (const n of [1, 2, 3]) results.throughput.push(await throughput(n, total, 32));
  }
  const faults: Fault[] = ['link-down', 'partition', 'kill', 'clock-skew'];
  for (const f of faults) {
    if (only && only !== f) continue;
    if (f === 'clock-skew' && !FAKETIME_LIB) {
      console.log('clock-skew: skipped, libfaketime is not installed (apt-get install faketime)');
      continue;
    }
    results.faults.push(await faultCase(f, 800));
  }
  const out = {
    measuredAt: new Date().toISOString(),
    mode: measure ? 'measure' : 'ci',
    wallS: round((performance.now() - started) / 1000),
    cpus: 2,
    ...results,
    failures,
  };
  // The measuring run's figures are committed (docs/scaling.md quotes them); CI's stay in .tmp/.
  const file = measure
    ? path.join(repo, 'scripts/cluster/results.json')
    : path.join(repo, '.tmp/cluster/ci.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  // The committed file is kept in the project's format (npm run format:check covers it).
  if (measure)
    spawnSync(path.join(repo, 'node_modules/.bin/prettier'), ['--write', file], { stdio: 'ignore' });
  console.log(
    `${failures.length === 0 ? 'all checks passed' : `${failures.length} check(s) failed`} in ${out.wallS} s; figures in ${path.relative(repo, file)}`,
  );
  return failures.length === 0 ? 0 : 1;
}

main()
  .then(async (code) => {
    await admin.end();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    console.error(err);
    await admin.end().catch(() => {});
    process.exit(1);
  });
