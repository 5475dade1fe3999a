/**
 * `npm run sim:shards [-- --shards 1,2,3 --rounds 2 --seconds 3 --connections 32]`: the multi-primary design of
 * docs/scaling.md, simulated with real processes. For each K it creates K databases on one PostgreSQL server (one
 * database stands in for one primary), starts one taskd per database (`node dist/main.js`, TASK_ID_SHARD=k, kind
 * `noop`) and the routing proxy of scripts/shard-sim/router.ts in front of them, then, with the shards' queues
 * paused so that creates are measured alone:
 *
 * 1. creates tasks through the router from `--connections` closed loops: for `--seconds` without a key (sent in
 *    turn), then for `--keyed-seconds` with one (sent by its hash; half in the header, half in the body), then
 *    `--backlog` tasks in batches of 500 for the drain; with K=1 also straight to the process, without the router,
 *    for what the router costs;
 * 2. replays every keyed create, and sends some keys again with another body;
 * 3. reads tasks by id through the router (GET /v1/tasks/{id}, and /attempts for some), each once, and a few ids
 *    of a shard that does not exist;
 * 4. resumes the queues and lets the K processes drain everything.
 *
 * Rates are counted from the databases: creates/s is the rows added over a window, drain/s the tasks over the span
 * from the first start to the last finish (one server, one clock). Each window also records where the CPU went
 * (scripts/shard-sim/cpu.ts) and what the backends waited for. Then it checks, from the databases, that every
 * acknowledged task is in exactly one shard (0 lost, 0 duplicates), that each database holds only ids of its own
 * shard, that all of its tasks were claimed by its own process, that every read reached the right shard at its
 * first try and that every replay landed on its original's shard. Results go to scripts/shard-sim-results.json;
 * the exit status is 1 if any check failed. Rounds interleave the Ks and stop within about 3 minutes; everything
 * started is stopped and removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';
import { spread } from '../bench/lib/util.js';
import { taskIdShard } from '../src/domain/task-id.js';
import { cpuSnapshot, cpuUse, serviceCpuMsPer, type CpuUse } from './shard-sim/cpu.js';
import { shardOfKey, startRouter, type RouterStats } from './shard-sim/router.js';
import { Shards } from './shard-sim/shards.js';

const { values: args } = parseArgs({
  options: {
    shards: { type: 'string', default: '1,2,3' },
    seconds: { type: 'string', default: '3' },
    'keyed-seconds': { type: 'string', default: '2' },
    backlog: { type: 'string', default: '8000' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '32' },
    reads: { type: 'string', default: '1000' },
    out: { type: 'string', default: 'scripts/shard-sim-results.json' },
  },
});
const SHARD_COUNTS = args.shards.split(',').map(Number);
const CREATE_MS = Number(args.seconds) * 1000;
const CONNECTIONS = Number(args.connections);
const READS = Number(args.reads);
const ROUNDS = Number(args.rounds);
const KEYED_MS = Number(args['keyed-seconds']) * 1000;
const WARMUP_MS = 1000;
/** Keyed creates sent again with another body, which their shard must refuse. */
const CONFLICTS = 50;
/** Tasks added by batches before the drain, so that it measures more than its own start. */
const BACKLOG = Number(args.backlog);
const BATCH = 500;
/**
 * A round that would end later than this (judged by the longest round so far) is not started: the whole stays
 * bounded, and every K has the same number of rounds.
 */
const BUDGET_MS = 170_000;
/** Every wait is bounded: a stuck run fails with what it was waiting for instead of hanging. */
const DRAIN_LIMIT_MS = 60_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Created {
  id: string;
  /** The shard that answered the create (the router's X-Shard). */
  shard: number;
  key?: string;
  keyIn?: 'header' | 'body';
  body: string;
}

interface Window {
  seconds: number;
  /** Creates answered 201. */
  acknowledged: number;
  /** Rows the databases gained over the window: equal to `acknowledged`, or something was lost or doubled. */
  rowsAdded: number;
  perSecond: number;
  errors: number;
  perShard: number[];
  cpu: CpuUse;
  serviceCpuMsPerTask: number;
  /** What the databases' active backends waited for, % of samples (the four most frequent). */
  waits: Record<string, number>;
}

interface Result {
  shards: number;
  /** K=1 only: the same creates sent to the one process itself, without the router, for the router's cost. */
  createDirect?: Window;
  /** Creates without a key, sent to the shards in turn. */
  create: Window;
  /** Creates with a key (half in the header, half in the body), sent by the key's hash. */
  createKeyed: Window;
  /** The drain's backlog, made by batches (POST /v1/tasks/batch, each to one shard, in turn). */
  batches: { tasks: number; batchSize: number; seconds: number; perSecond: number; errors: number };
  replays: {
    sent: number;
    onOriginalShard: number;
    sameTask: number;
    elsewhere: number;
    conflictsOnShard: number;
  };
  reads: {
    sent: number;
    firstTry: number;
    misroutes: number;
    wrongShardHeader: number;
    errors: number;
    /** Of 10 ids naming shard K (one past the last): refused by the router. */
    unknownShardRefused: number;
  };
  drain: {
    tasks: number;
    seconds: number;
    perSecond: number;
    perShard: number[];
    cpu: CpuUse;
    serviceCpuMsPerTask: number;
    waits: Record<string, number>;
  };
  checks: {
    lost: number;
    duplicates: number;
    foreignIds: number;
    claimedByOtherProcess: number;
    notCompleted: number;
    keysOnWrongShard: number;
  };
  router: RouterStats;
  /** Filled in as the phases end; `stop` only after the result is made. */
  phases: Record<string, number>;
}

/** Runs `worker` from `loops` closed loops until `ms` have passed. */
async function closedLoops(loops: number, ms: number, worker: () => Promise<void>): Promise<number> {
  const start = performance.now();
  const end = start + ms;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (performance.now() < end) await worker();
    }),
  );
  return performance.now() - start;
}

/** Runs `worker` over `items` from `loops` loops, each item once. */
async function eachOnce<T>(
  items: readonly T[],
  loops: number,
  worker: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (next < items.length) await worker(items[next++]!);
    }),
  );
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function call(
  http: Pool,
  method: Dispatcher.HttpMethod,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Dispatcher.ResponseData['headers']; json: Record<string, unknown> }> {
  const res = await http.request({
    method,
    path,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    ...(body !== undefined && { body }),
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  };
}

/** The shards of the K being run, stopped and removed if the run is interrupted. */
let running: Shards | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`${signal}: stopping the shards and dropping their databases`);
    void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

async function runK(k: number, runId: string): Promise<Result> {
  let mark = performance.now();
  /** Seconds each phase took, start-up and clean-up included: where the run's bounded time goes. */
  const phases: Record<string, number> = {};
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = Math.round(now - mark) / 1000;
    mark = now;
  };
  const shards = await Shards.start(k, runId);
  running = shards;
  const router = await startRouter(shards.urls);
  const http = new Pool(router.url, { connections: CONNECTIONS + 4 });
  const created: Created[] = [];
  let n = 0;

  /** Creates from closed loops for `ms`, through `to` (the router, or one process), and what the databases gained. */
  const window = async (to: Pool, keyed: boolean, ms: number): Promise<Window> => {
    let errors = 0;
    let acknowledged = 0;
    const perShard = shards.urls.map(() => 0);
    const createOne = async () => {
      const i = n++;
      const body: Record<string, unknown> = { kind: 'noop', input: { n: i, text: `sim task ${i}` } };
      const headers: Record<string, string> = {};
      let key: string | undefined;
      let keyIn: Created['keyIn'];
      if (keyed) {
        key = `sim-${runId}-${k}-${i}`;
        keyIn = i % 2 === 0 ? 'header' : 'body';
        if (keyIn === 'header') headers['idempotency-key'] = key;
        else body.idempotency_key = key;
      }
      const text = JSON.stringify(body);
      try {
        const res = await call(to, 'POST', '/v1/tasks', text, headers);
        if (res.status !== 201) throw new Error(`create answered ${res.status}`);
        // Straight to a process (no router, so no X-Shard): that process's shard, 0.
        const shard = Number(res.headers['x-shard'] ?? 0);
        created.push({ id: res.json.id as string, shard, key, keyIn, body: text });
        acknowledged++;
        perShard[shard]!++;
      } catch {
        errors++;
        await sleep(5);
      }
    };
    const rowsBefore = await shards.rowCount();
    const cpuBefore = cpuSnapshot(shards.pids, await shards.backendPids());
    const waits = shards.sampleWaits();
    const elapsed = await closedLoops(CONNECTIONS, ms, createOne);
    const waitProfile = await waits();
    const cpu = cpuUse(cpuBefore, cpuSnapshot(shards.pids, await shards.backendPids()), elapsed);
    const rowsAdded = (await shards.rowCount()) - rowsBefore;
    return {
      seconds: elapsed / 1000,
      acknowledged,
      rowsAdded,
      perSecond: rowsAdded / (elapsed / 1000),
      errors,
      perShard,
      cpu,
      serviceCpuMsPerTask: serviceCpuMsPer(cpu, rowsAdded),
      waits: waitProfile,
    };
  };

  /** Adds BACKLOG tasks by batches from 4 loops, so that the drain has enough to measure. */
  const fillBacklog = async (): Promise<Result['batches']> => {
    const rowsBefore = await shards.rowCount();
    const batchesToSend = Array.from({ length: Math.ceil(BACKLOG / BATCH) }, (_, b) => b);
    let errors = 0;
    const start = performance.now();
    await eachOnce(batchesToSend, 4, async (b) => {
      const tasks = Array.from({ length: BATCH }, (_, j) => ({ kind: 'noop', input: { batch: b, n: j } }));
      const res = await call(http, 'POST', '/v1/tasks/batch', JSON.stringify({ tasks }));
      if (res.status !== 201) {
        errors++;
        return;
      }
      const shard = Number(res.headers['x-shard']);
      for (const t of res.json.tasks as { id: string }[]) created.push({ id: t.id, shard, body: '' });
    });
    const seconds = (performance.now() - start) / 1000;
    const tasks = (await shards.rowCount()) - rowsBefore;
    return { tasks, batchSize: BATCH, seconds, perSecond: tasks / seconds, errors };
  };

  try {
    // Paused, so that creates are measured alone and the reads below find every task still there.
    await shards.setPaused(true);
    phase('start');

    // 1. Creates. A short warm-up first (connections, JIT), counted in the checks but not in a rate.
    await window(http, false, WARMUP_MS);
    let createDirect: Window | undefined;
    if (k === 1) {
      const direct = new Pool(shards.urls[0]!, { connections: CONNECTIONS + 4 });
      try {
        await window(direct, false, WARMUP_MS);
        createDirect = await window(direct, false, CREATE_MS);
      } finally {
        await direct.close();
      }
    }
    const create = await window(http, false, CREATE_MS);
    const createKeyed = await window(http, true, KEYED_MS);
    const batches = await fillBacklog();
    phase('creates');

    // 2. Replays of every keyed create: the same body answers 200 with the original task, on its shard.
    const keyed = created.filter((c) => c.key !== undefined);
    const replays = { sent: 0, onOriginalShard: 0, sameTask: 0, elsewhere: 0, conflictsOnShard: 0 };
    await eachOnce(keyed, 16, async (c) => {
      replays.sent++;
      const res = await call(
        http,
        'POST',
        '/v1/tasks',
        c.body,
        c.keyIn === 'header' ? { 'idempotency-key': c.key! } : {},
      );
      if (Number(res.headers['x-shard']) === c.shard) replays.onOriginalShard++;
      else replays.elsewhere++;
      if (res.status === 200 && res.headers['idempotent-replayed'] === 'true' && res.json.id === c.id) {
        replays.sameTask++;
      }
    });
    // The same key with another body is refused (422) by the shard that holds the key.
    await eachOnce(keyed.slice(0, CONFLICTS), 8, async (c) => {
      const other = JSON.stringify({ kind: 'noop', input: 'another body', idempotency_key: c.key });
      const res = await call(http, 'POST', '/v1/tasks', other);
      if (res.status === 422 && Number(res.headers['x-shard']) === c.shard) replays.conflictsOnShard++;
    });

    phase('replays');

    // 3. Reads by id, each once: the router reads the shard from the id; a 404 would be a misroute.
    const reads = {
      sent: 0,
      firstTry: 0,
      misroutes: 0,
      wrongShardHeader: 0,
      errors: 0,
      unknownShardRefused: 0,
    };
    await eachOnce(shuffled(created).slice(0, READS), CONNECTIONS, async (c) => {
      const i = reads.sent++;
      const path = i % 10 === 0 ? `/v1/tasks/${c.id}/attempts` : `/v1/tasks/${c.id}`;
      const res = await call(http, 'GET', path);
      if (res.status === 200) reads.firstTry++;
      else if (res.status === 404) reads.misroutes++;
      else reads.errors++;
      if (Number(res.headers['x-shard']) !== taskIdShard(c.id)) reads.wrongShardHeader++;
    });

    // A control: ids of a shard that does not exist are answered 404 by the router itself, never forwarded.
    const beyond = created
      .slice(0, 10)
      .map((c) => `${c.id.slice(0, 15)}${k.toString(16).padStart(2, '0')}${c.id.slice(17)}`);
    for (const id of beyond) {
      const res = await call(http, 'GET', `/v1/tasks/${id}`);
      if (res.status === 404 && res.headers['x-shard'] === undefined) reads.unknownShardRefused++;
    }
    phase('reads');

    // 4. The drain: every shard's queue resumed at once; each process claims from its own database only.
    const drainBefore = cpuSnapshot(shards.pids, await shards.backendPids());
    const drainStart = performance.now();
    const drainWaitsDone = shards.sampleWaits();
    await shards.setPaused(false);
    await shards.drained(DRAIN_LIMIT_MS);
    const drainWaits = await drainWaitsDone();
    const drainCpu = cpuUse(
      drainBefore,
      cpuSnapshot(shards.pids, await shards.backendPids()),
      performance.now() - drainStart,
    );
    const span = await shards.drainSpan();
    phase('drain');

    // The checks, from the databases.
    const rows = await shards.rows();
    const where = new Map<string, number[]>();
    for (const r of rows) where.set(r.id, [...(where.get(r.id) ?? []), r.shard]);
    const perShardRows = shards.urls.map((_, s) => rows.filter((r) => r.shard === s).length);
    return {
      shards: k,
      ...(createDirect && { createDirect }),
      create,
      createKeyed,
      batches,
      replays,
      reads,
      drain: {
        tasks: rows.length,
        seconds: span.seconds,
        perSecond: rows.length / span.seconds,
        perShard: span.perShard.map((sec, s) => perShardRows[s]! / sec),
        cpu: drainCpu,
        serviceCpuMsPerTask: serviceCpuMsPer(drainCpu, rows.length),
        waits: drainWaits,
      },
      checks: {
        lost: created.filter((c) => !where.has(c.id)).length,
        // An id in two databases, or a task no client was answered for (made twice, or by nobody asked).
        duplicates: [...where.values()].filter((s) => s.length > 1).length + (where.size - created.length),
        foreignIds: rows.filter((r) => taskIdShard(r.id) !== r.shard).length,
        claimedByOtherProcess: rows.filter((r) => !r.ownerIsOwnProcess).length,
        notCompleted: rows.filter((r) => r.state !== 'completed').length,
        keysOnWrongShard: rows.filter(
          (r) => r.idempotencyKey !== null && shardOfKey(r.idempotencyKey, k) !== r.shard,
        ).length,
      },
      router: { ...router.stats, forwarded: [...router.stats.forwarded] },
      phases,
    };
  } finally {
    await http.close();
    await router.close();
    await shards.stop();
    running = undefined;
    phase('stop');
  }
}

/** What a run found wrong; empty when the design held. */
function problems(r: Result): string[] {
  const out: string[] = [];
  const expect = (what: string, got: number, want: number) => {
    if (got !== want) out.push(`K=${r.shards}: ${what} is ${got}, expected ${want}`);
  };
  for (const [name, v] of Object.entries(r.checks)) expect(name, v, 0);
  for (const [name, w] of [
    ['direct create', r.createDirect],
    ['create', r.create],
    ['keyed create', r.createKeyed],
  ] as const) {
    if (!w) continue;
    expect(`rows added in the ${name} window`, w.rowsAdded, w.acknowledged);
    expect(`${name} errors`, w.errors, 0);
  }
  expect('batch errors', r.batches.errors, 0);
  expect('replays on their original shard', r.replays.onOriginalShard, r.replays.sent);
  expect('replays answering the original task', r.replays.sameTask, r.replays.sent);
  expect('reads answered at the first try', r.reads.firstTry, r.reads.sent);
  expect('misroutes', r.reads.misroutes, 0);
  expect('ids of a shard that does not exist refused by the router', r.reads.unknownShardRefused, 10);
  expect('reads answered by another shard than the id names', r.reads.wrongShardHeader, 0);
  expect(
    'bodies refused by the shard of their key',
    r.replays.conflictsOnShard,
    Math.min(CONFLICTS, r.replays.sent),
  );
  return out;
}

async function main(): Promise<void> {
  const runId = `${process.pid}`;
  const started = Date.now();
  const machine = {
    cpus: os.cpus().length,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  const results: Result[] = [];
  // Rounds interleave the Ks (1, 2, 3, 1, 2, 3), so that a burst of other work on the machine hits them alike.
  let longestMs = 0;
  let rounds = 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (Date.now() - started + longestMs > BUDGET_MS) break;
    const t0 = Date.now();
    rounds++;
    for (const k of SHARD_COUNTS) {
      const r = await runK(k, `${runId}r${round}`);
      results.push(r);
      const rate = (w: { perSecond: number } | undefined) => (w ? Math.round(w.perSecond) : '-');
      console.log(
        `K=${k}: creates/s ${rate(r.create)} (direct ${rate(r.createDirect)}), keyed ${rate(r.createKeyed)}, ` +
          `in batches ${rate(r.batches)}; drained/s ${rate(r.drain)} (${r.drain.tasks} in ${r.drain.seconds.toFixed(2)} s); ` +
          `reads ${r.reads.firstTry}/${r.reads.sent} at the first try, replays ${r.replays.onOriginalShard}/${r.replays.sent} ` +
          `on their shard; lost ${r.checks.lost}, duplicates ${r.checks.duplicates}`,
      );
    }
    longestMs = Math.max(longestMs, Date.now() - t0);
  }
  // Per K, the median (min–max) over the rounds of each rate.
  const summary = SHARD_COUNTS.map((k) => {
    const of = results.filter((r) => r.shards === k);
    const s = (pick: (r: Result) => number | undefined) =>
      spread(of.map(pick).filter((v): v is number => v !== undefined));
    return {
      shards: k,
      createsPerSecond: s((r) => r.create.perSecond),
      createsDirectPerSecond: k === 1 ? s((r) => r.createDirect?.perSecond) : undefined,
      keyedCreatesPerSecond: s((r) => r.createKeyed.perSecond),
      batchTasksPerSecond: s((r) => r.batches.perSecond),
      drainPerSecond: s((r) => r.drain.perSecond),
      createServiceCpuMsPerTask: s((r) => r.create.serviceCpuMsPerTask),
      drainServiceCpuMsPerTask: s((r) => r.drain.serviceCpuMsPerTask),
      machineBusyPercent: s((r) => r.create.cpu.machineBusyPercent),
    };
  });
  const found = results.flatMap(problems);
  const report = {
    date: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    settings: {
      createSeconds: CREATE_MS / 1000,
      keyedSeconds: KEYED_MS / 1000,
      connections: CONNECTIONS,
      reads: READS,
      backlog: BACKLOG,
      batchSize: BATCH,
      rounds: ROUNDS,
    },
    machine: { ...machine, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    /** Rounds run: fewer than asked when the next one would have ended past the time budget. */
    roundsRun: rounds,
    summary,
    results,
    problems: found,
  };
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  // The committed file is kept in the project's format (npm run format:check covers it).
  spawnSync(path.resolve('node_modules/.bin/prettier'), ['--write', args.out], { stdio: 'ignore' });
  console.log(`written to ${args.out} (${report.seconds.toFixed(0)} s)`);
  if (found.length > 0) {
    console.error(found.join('\n'));
    process.exitCode = 1;
  }
}

await main();
