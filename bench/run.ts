/**
 * `npm run bench [-- --quick] [--rounds N] [--inflight-rounds N] [--vs graphile-worker,pg-boss,bullmq]
 * [--only start,create,create-v1,drain,drain-v1,reads,pickup,inflight,limit,plan,peers,diagnose,waiting,webhooks,
 * storage] [--claim-plan]
 * [--start-only]
 * [--no-plan]`
 *
 * Builds the service if its sources changed, runs each workload on fresh databases (dropped afterwards), prints a
 * table, and writes bench/results/<date>.json and .svg. Every loop is bounded in count and time.
 */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { flameGraph } from './lib/flame.js';
import { topSelfTime } from './lib/profile.js';
import { claimPlan, limitWorkload, type LimitResult, type PlanSample } from './limits.js';
import {
  createWorkload,
  drainFromStartWorkload,
  drainWorkload,
  type DrainFromStartResult,
  inflightWorkload,
  pickupWorkload,
  type CreateResult,
  type DrainResult,
  type InflightResult,
  type PickupResult,
  type StartResult,
  startWorkload,
} from './ours.js';
import { PEERS, runPeer, type PeerName, type PeerResult } from './peers/run.js';
import { storageWorkload, type StorageResult } from './storage.js';
import { waitingWorkload, type WaitingResult } from './waiting.js';
import { webhookWorkload, type WebhookResult } from './webhooks.js';
import { adminQuery, dropAllCreated } from './lib/pg.js';
import { ROOT } from './lib/service.js';
import { renderChart, type Bar, type Panel } from './lib/svg.js';
import { log, round, spread, type Spread } from './lib/util.js';

interface Args {
  quick: boolean;
  rounds: number;
  inflightRounds: number;
  vs: PeerName[];
  only: Set<string>;
  plan: boolean;
}

// `diagnose` (a drain under the CPU profiler) runs only when asked for with --only.
const ALL = [
  'start',
  'create',
  'create-v1',
  'drain',
  'drain-v1',
  'drain-start',
  'reads',
  'pickup',
  'inflight',
  'limit',
  'plan',
  'peers',
  'waiting',
  'webhooks',
  'storage',
];

function parseArgs(argv: string[]): Args {
  const quick = argv.includes('--quick');
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const rounds = Number(value('--rounds') ?? (quick ? 2 : 3));
  const inflightRounds = Number(value('--inflight-rounds') ?? (quick ? 1 : 2));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds must be 1..20');
  if (!Number.isInteger(inflightRounds) || inflightRounds < 1 || inflightRounds > 10)
    throw new Error('--inflight-rounds must be 1..10');
  const vsRaw = value('--vs');
  const vs = (vsRaw ? vsRaw.split(',') : []).map((p) => p.trim()).filter((p) => p.length > 0);
  for (const p of vs)
    if (!(PEERS as readonly string[]).includes(p))
      throw new Error(`unknown peer ${p}; use ${PEERS.join(',')}`);
  let only = new Set(value('--only')?.split(',') ?? ALL);
  if (argv.includes('--claim-plan')) only = new Set(['plan']);
  if (argv.includes('--start-only')) only = new Set(['start']);
  return { quick, rounds, inflightRounds, vs: vs as PeerName[], only, plan: !argv.includes('--no-plan') };
}

function settingsFor(args: Args) {
  return args.quick
    ? {
        connections: 64,
        createCallers: [32, 64],
        createMs: 2000,
        drainTasks: 10_000,
        drainLarge: 30_000,
        pickupCount: 100,
        inflightTasks: 100_000,
        // Long enough for a window of lease upkeep after the ramp and the statistics' delay (inflightWorkload).
        inflightWaitMs: 30_000,
        smallInflightTasks: 5000,
        smallInflightWaitMs: 20_000,
        limitMs: 2000,
        poolSize: 20,
        planFinished: 1_000_000,
        peerEnqueueCallers: 64,
      }
    : {
        connections: 64,
        createCallers: [32, 64],
        createMs: 5000,
        drainTasks: 10_000,
        drainLarge: 100_000,
        pickupCount: 300,
        inflightTasks: 100_000,
        inflightWaitMs: 60_000,
        smallInflightTasks: 5000,
        smallInflightWaitMs: 20_000,
        limitMs: 5000,
        poolSize: 20,
        planFinished: 1_000_000,
        peerEnqueueCallers: 64,
      };
}

/** A workload that fails is logged and left out of the table; the rest of the run and its results go on. */
async function guarded<T>(name: string, fallback: T, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    log(`${name} failed, left out: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return fallback;
  }
}

async function repeat<T>(name: string, rounds: number, fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < rounds; i++) {
    log(`${name}: round ${i + 1}/${rounds}`);
    const started = Date.now();
    out.push(await fn());
    log(
      `${name}: round ${i + 1} done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(out.at(-1))}`,
    );
  }
  return out;
}

const over = <T>(rows: T[], pick: (r: T) => number): Spread => spread(rows.map(pick));

async function versions() {
  const pkg = async (name: string) => {
    try {
      return (
        JSON.parse(await readFile(`${ROOT}node_modules/${name}/package.json`, 'utf8')) as { version: string }
      ).version;
    } catch {
      return 'not installed';
    }
  };
  const pgVersion = (await adminQuery<{ v: string }>('SELECT version() AS v'))[0]?.v ?? '?';
  let redis = 'not reached';
  try {
    redis =
      execFileSync('redis-cli', ['-h', '127.0.0.1', 'INFO', 'server'], { encoding: 'utf8', timeout: 3000 })
        .split('\n')
        .find((l) => l.startsWith('redis_version:'))
        ?.trim() ?? redis;
  } catch {
    // No redis-cli: the BullMQ run says whether Redis answered.
  }
  return {
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    postgres: pgVersion,
    redis,
    packages: {
      pg: await pkg('pg'),
      fastify: await pkg('fastify'),
      undici: await pkg('undici'),
      'graphile-worker': await pkg('graphile-worker'),
      'pg-boss': await pkg('pg-boss'),
      bullmq: await pkg('bullmq'),
    },
  };
}

interface Row {
  workload: string;
  metric: string;
  value: Spread;
  unit: string;
  against?: string;
  reference?: Spread;
  ratio?: number;
  target?: string;
  met?: boolean;
}

function fmt(s: Spread, digits = 1): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  const f = (n: number) => (Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : n.toFixed(digits));
  return s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

function printTable(rows: Row[]): string {
  const header = ['workload', 'metric', 'median (min–max)', 'vs', 'reference', 'ratio', 'target', 'met'];
  const body = rows.map((r) => [
    r.workload,
    r.metric,
    r.unit === '' ? fmt(r.value, 3) : `${fmt(r.value)} ${r.unit}`,
    r.against ?? '',
    r.reference ? fmt(r.reference) : '',
    r.ratio !== undefined && Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : '',
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'yes' : 'NO',
  ]);
  const md = [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...body.map((cells) => `| ${cells.join(' | ')} |`),
  ].join('\n');
  return md;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const s = settingsFor(args);
  const started = new Date();
  const stamp = started.toISOString().replaceAll(':', '-').slice(0, 19);
  const wants = (w: string) => args.only.has(w);
  const hardStop = setTimeout(() => {
    console.error('bench: 45 minute limit reached; stopping');
    void dropAllCreated().finally(() => process.exit(3));
  }, 45 * 60_000);
  hardStop.unref();

  if (args.only.size > 1 || !wants('plan')) {
    // As `npm start` does: compile only if the sources changed, and record the build, so that the start workload
    // finds dist/ fresh.
    log('building the service if its sources changed (scripts/build-if-stale.mjs)');
    execFileSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: ROOT, stdio: 'inherit' });
  }
  const machine = await versions();
  log(`machine: ${JSON.stringify(machine)}`);

  const results: Record<string, unknown> = {};
  const rows: Row[] = [];
  let start: StartResult[] = [];
  let create: CreateResult[] = [];
  let drain: DrainResult[] = [];
  let createV1: CreateResult[] = [];
  let drainV1: DrainResult[] = [];
  let reads: DrainResult[] = [];
  let pickup: PickupResult[] = [];
  let inflight: InflightResult[] = [];
  let inflightSmall: InflightResult[] = [];
  let limit: LimitResult[] = [];
  const limitBy: Record<number, LimitResult[]> = {};
  const createBy: Record<number, CreateResult[]> = {};
  const createV1By: Record<number, CreateResult[]> = {};
  let drainStart: DrainFromStartResult[] = [];
  let drainStartLarge: DrainFromStartResult[] = [];
  let plan: PlanSample[] = [];
  const drainQuiet: DrainResult[] = [];
  let profile: { drain: DrainResult; top: { share: number; fn: string }[] } | undefined;
  const peers: Partial<Record<PeerName, PeerResult[]>> = {};
  const peerErrors: Partial<Record<PeerName, string>> = {};
  let waiting: WaitingResult[] = [];
  let webhooks: WebhookResult[] = [];
  let storage: StorageResult[] = [];

  try {
    // At least 3 rounds: a median of fewer says little about a figure of well under a second on a shared machine.
    if (wants('start')) start = await startWorkload(Math.max(3, args.rounds));
    for (const callers of s.createCallers) {
      if (wants('limit'))
        limitBy[callers] = await repeat(`limit, ${callers} callers`, args.rounds, () =>
          limitWorkload(callers, s.poolSize, s.limitMs),
        );
      if (wants('create'))
        createBy[callers] = await repeat(`create, ${callers} connections`, args.rounds, () =>
          createWorkload(callers, s.createMs),
        );
      if (wants('create-v1'))
        createV1By[callers] = await repeat(`create v1, ${callers} connections`, args.rounds, () =>
          createWorkload(callers, s.createMs, 'v1'),
        );
    }
    limit = limitBy[s.connections] ?? [];
    create = createBy[s.connections] ?? [];
    createV1 = createV1By[s.connections] ?? [];
    if (wants('drain-start')) {
      drainStart = await repeat('drain from npm start', args.rounds, () =>
        drainFromStartWorkload(s.drainTasks),
      );
      drainStartLarge = await repeat('drain from npm start (large)', args.rounds, () =>
        drainFromStartWorkload(s.drainLarge),
      );
    }
    if (wants('drain')) drain = await repeat('drain', args.rounds, () => drainWorkload(s.drainTasks));
    if (wants('drain-v1'))
      drainV1 = await repeat('drain v1', args.rounds, () => drainWorkload(s.drainTasks, { v1: true }));
    if (wants('reads'))
      reads = await repeat('drain + reads', args.rounds, () =>
        drainWorkload(s.drainTasks, { readConnections: s.connections }),
      );
    if (wants('diagnose')) {
      // What the drain and the creates spend their time on: each once under the CPU profiler, drawn as flame
      // graphs beside the results (<stamp>-flame-drain.svg, <stamp>-flame-create.svg).
      const dir = await mkdtemp(`${tmpdir()}/taskd-bench-prof-`);
      const createDir = await mkdtemp(`${tmpdir()}/taskd-bench-prof-`);
      try {
        const profiled = await drainWorkload(s.drainTasks, {
          nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
        });
        profile = { drain: profiled, top: await topSelfTime(dir) };
        log(`drain under the profiler: ${Math.round(profiled.perSecond)}/s; top self time:`);
        for (const t of profile.top.slice(0, 15)) log(`  ${(t.share * 100).toFixed(1)}% ${t.fn}`);
        const created = await createWorkload(s.connections, s.createMs, 'original', [
          '--cpu-prof',
          `--cpu-prof-dir=${createDir}`,
        ]);
        await mkdir(`${ROOT}bench/results`, { recursive: true });
        await writeFile(
          `${ROOT}bench/results/${stamp}-flame-drain.svg`,
          await flameGraph(
            dir,
            `taskd: drain of ${s.drainTasks.toLocaleString('en-US')} no-op tasks (${Math.round(profiled.perSecond)}/s under the profiler), the whole process from its start`,
          ),
        );
        await writeFile(
          `${ROOT}bench/results/${stamp}-flame-create.svg`,
          await flameGraph(
            createDir,
            `taskd: POST /task/create from ${s.connections} connections (${Math.round(created.perSecond)}/s under the profiler), the API-only process from its start`,
          ),
        );
        log(`wrote bench/results/${stamp}-flame-drain.svg and -flame-create.svg`);
      } finally {
        await rm(dir, { recursive: true, force: true });
        await rm(createDir, { recursive: true, force: true });
      }
    }
    if (wants('pickup')) pickup = await repeat('pickup', args.rounds, () => pickupWorkload(s.pickupCount));
    if (wants('inflight')) {
      inflight = await repeat('in-flight', args.inflightRounds, () =>
        inflightWorkload(s.inflightTasks, s.inflightWaitMs),
      );
      inflightSmall = await repeat('in-flight (small)', args.inflightRounds, () =>
        inflightWorkload(s.smallInflightTasks, s.smallInflightWaitMs),
      );
    }
    if (wants('peers'))
      for (const peer of args.vs) {
        // A peer that cannot run (Redis down, say) is reported as such; the rest of the run goes on.
        let peerRound = 0;
        peers[peer] = await repeat(peer, args.rounds, () =>
          runPeer(peer, {
            enqueueCallers: s.peerEnqueueCallers,
            enqueueMs: s.createMs,
            drainJobs: s.drainTasks,
            drainJobsLarge: wants('drain-start') ? s.drainLarge : 0,
            // pg-boss polls every 0.5 s at best, so each of its pickups takes that long: fewer samples for peers.
            pickupCount: Math.min(s.pickupCount, 40),
            inflightJobs: s.smallInflightTasks,
            inflightWaitMs: s.smallInflightWaitMs,
            // The in-flight part takes long: only in as many rounds as ours.
            withInflight: peerRound++ < args.inflightRounds,
          }),
        ).catch((err: unknown) => {
          log(`${peer} failed: ${err instanceof Error ? err.message : String(err)}`);
          peerErrors[peer] = err instanceof Error ? err.message.slice(0, 2000) : String(err);
          return [];
        });
        if (peers[peer]?.length === 0) delete peers[peer];
      }
    if (wants('plan') && args.plan) {
      log(`claim plan: 10,000 queued, then +${s.planFinished.toLocaleString('en-US')} finished rows`);
      plan = await guarded('claim plan', [], () => claimPlan(10_000, s.planFinished));
      for (const p of plan)
        log(`claim plan [${p.label}]: execution ${p.executionMs} ms, planning ${p.planningMs} ms`);
    }
    // Waiting at scale, webhooks and the http kind, storage that stays flat (bench/waiting.ts, webhooks.ts,
    // storage.ts): the long ones run in as many rounds as the in-flight workload.
    if (wants('waiting'))
      waiting = await guarded('waiting', [], () =>
        repeat('waiting', args.inflightRounds, () =>
          waitingWorkload(args.quick ? 2000 : 10_000, args.quick ? 200 : 1000),
        ),
      );
    if (wants('webhooks'))
      webhooks = await guarded('webhooks', [], () =>
        repeat('webhooks', args.rounds, () =>
          webhookWorkload(args.quick ? 5000 : 20_000, args.quick ? 2000 : 10_000),
        ),
      );
    if (wants('storage'))
      storage = await guarded('storage', [], () =>
        repeat('storage', args.inflightRounds, () =>
          storageWorkload(s.drainTasks, args.quick ? 200_000 : 1_000_000, args.quick ? 20_000 : 100_000),
        ),
      );
  } finally {
    await dropAllCreated();
  }

  // ---- The table -----------------------------------------------------------------------------------------
  if (start.length) {
    const ready = over(start, (r) => r.npm.readyMs);
    rows.push({
      workload: 'start',
      metric: 'npm start → GET /readyz 200, fresh database',
      value: ready,
      unit: 'ms',
      target: '≤ 1000 ms',
      met: ready.median <= 1000,
    });
    rows.push({
      workload: 'start',
      metric: 'npm start → listening log line, fresh database',
      value: over(start, (r) => r.npm.listeningMs),
      unit: 'ms',
    });
    rows.push({
      workload: 'start',
      metric: 'npm start → GET /readyz 200, database already migrated (restart)',
      value: over(start, (r) => r.npmRestart.readyMs),
      unit: 'ms',
    });
    rows.push({
      workload: 'start',
      metric: 'node dist/main.js → GET /readyz 200, fresh database',
      value: over(start, (r) => r.direct.readyMs),
      unit: 'ms',
    });
    rows.push({
      workload: 'start',
      metric: 'npm start → GET /readyz 200, embedded PostgreSQL, existing data dir',
      value: over(start, (r) => r.embedded.readyMs),
      unit: 'ms',
    });
    rows.push({
      workload: 'start',
      metric: 'npm start → listening log line, embedded PostgreSQL',
      value: over(start, (r) => r.embedded.listeningMs),
      unit: 'ms',
    });
  }
  const insertLimit = limit.length ? over(limit, (r) => r.insertPerSecond) : undefined;
  const claimLimit = limit.length ? over(limit, (r) => r.claimCompletePerSecond) : undefined;
  for (const [callers, res] of Object.entries(limitBy)) {
    if (Number(callers) === s.connections || !res.length) continue;
    rows.push({
      workload: 'limit',
      metric: `single-row INSERT tx/s (${callers} callers, pool 20)`,
      value: over(res, (r) => r.insertPerSecond),
      unit: '/s',
    });
  }
  if (limit.length) {
    rows.push({
      workload: 'limit',
      metric: `single-row INSERT tx/s (${s.connections} callers, pool 20)`,
      value: insertLimit!,
      unit: '/s',
    });
    rows.push({
      workload: 'limit',
      metric: 'single-row claim + complete/s (64 callers, pool 20)',
      value: claimLimit!,
      unit: '/s',
    });
  }
  const graphileDrain = peers['graphile-worker']
    ? over(peers['graphile-worker'], (r) => r.drainPerSecond)
    : undefined;
  for (const [api, by, workload] of [
    ['POST /task/create', createBy, '1 create'],
    ['POST /v1/tasks, JSON input', createV1By, '1b create v1'],
  ] as const) {
    for (const callers of s.createCallers) {
      const res = by[callers];
      if (!res?.length) continue;
      const v = over(res, (r) => r.perSecond);
      const insert = limitBy[callers]?.length ? over(limitBy[callers], (r) => r.insertPerSecond) : undefined;
      const ratio = insert ? v.median / insert.median : undefined;
      rows.push({
        workload,
        metric: `${api} creates/s, ${callers} HTTP connections`,
        value: v,
        unit: '/s',
        ...(insert && {
          against: `raw INSERT tx/s, ${callers} callers`,
          reference: insert,
          ratio,
          target: '≥ 1.0×',
          met: (ratio ?? 0) >= 1,
        }),
      });
      rows.push({
        workload,
        metric: `p50, ${callers} connections`,
        value: over(res, (r) => r.p50Ms),
        unit: 'ms',
      });
      const p99 = over(res, (r) => r.p99Ms);
      rows.push({
        workload,
        metric: `p99, ${callers} connections`,
        value: p99,
        unit: 'ms',
        target: '≤ 15 ms',
        met: p99.median <= 15,
      });
      rows.push({
        workload,
        metric: `statements per create, ${callers} connections`,
        value: over(res, (r) => r.statementsPerTask),
        unit: '',
      });
    }
  }
  if (create.length) {
    const v = over(create, (r) => r.perSecond);
    for (const [peer, res] of Object.entries(peers)) {
      const ref = over(res, (r) => r.enqueuePerSecond);
      rows.push({
        workload: '1 create',
        metric: `creates/s vs ${peer} enqueue`,
        value: v,
        unit: '/s',
        against: peer,
        reference: ref,
        ratio: v.median / ref.median,
      });
    }
  }
  for (const [res, n, peerRate] of [
    [drainStart, s.drainTasks, (r: PeerResult) => r.drainFromStartPerSecond],
    [drainStartLarge, s.drainLarge, (r: PeerResult) => r.drainLargeFromStartPerSecond],
  ] as const) {
    if (!res.length) continue;
    const label = `${n.toLocaleString('en-US')} v1 noop`;
    const v = over(res, (r) => r.perSecond);
    rows.push({
      workload: '2c drain from start',
      metric: `tasks/s, ${label}, npm start → last finished (LOG_LEVEL=info)`,
      value: v,
      unit: '/s',
    });
    for (const [peer, pr] of Object.entries(peers)) {
      const ref = over(pr, peerRate);
      if (!Number.isFinite(ref.median)) continue;
      const ratio = v.median / ref.median;
      rows.push({
        workload: '2c drain from start',
        metric: `tasks/s, ${label}, vs ${peer} from its worker's start`,
        value: v,
        unit: '/s',
        against: peer,
        reference: ref,
        ratio,
        ...(peer === 'graphile-worker' && { target: '≥ 1.0×', met: ratio >= 1 }),
      });
    }
    rows.push({
      workload: '2c drain from start',
      metric: `tasks/s, ${label}, first start → last finished`,
      value: over(res, (r) => r.fromFirstPerSecond),
      unit: '/s',
    });
    rows.push({
      workload: '2c drain from start',
      metric: `npm start → first task started, ${label}`,
      value: over(res, (r) => r.firstStartMs),
      unit: 'ms',
    });
    rows.push({
      workload: '2c drain from start',
      metric: `statements per task, ${label}`,
      value: over(res, (r) => r.statementsPerTask),
      unit: '',
    });
  }
  if (drain.length) {
    const v = over(drain, (r) => r.perSecond);
    if (claimLimit) {
      const ratio = v.median / claimLimit.median;
      rows.push({
        workload: '2 drain',
        metric: `tasks/s (${s.drainTasks} noop)`,
        value: v,
        unit: '/s',
        against: 'raw claim+complete',
        reference: claimLimit,
        ratio,
        target: '≥ 2.5×',
        met: ratio >= 2.5,
      });
    } else rows.push({ workload: '2 drain', metric: `tasks/s (${s.drainTasks} noop)`, value: v, unit: '/s' });
    for (const [peer, res] of Object.entries(peers)) {
      const ref = over(res, (r) => r.drainPerSecond);
      const ratio = v.median / ref.median;
      rows.push({
        workload: '2 drain',
        metric: `tasks/s vs ${peer}`,
        value: v,
        unit: '/s',
        against: peer,
        reference: ref,
        ratio,
        ...(peer === 'graphile-worker' && { target: '≥ 1.0×', met: ratio >= 1 }),
      });
    }
  }
  if (drainV1.length) {
    const v = over(drainV1, (r) => r.perSecond);
    const original = drain.length ? over(drain, (r) => r.perSecond) : undefined;
    rows.push({
      workload: '2b drain v1',
      metric: `tasks/s (${s.drainTasks} noop v1: priorities, 2 queues, history)`,
      value: v,
      unit: '/s',
      ...(original && { against: 'original drain', reference: original, ratio: v.median / original.median }),
    });
  }
  if (drainQuiet.length) {
    const v = over(drainQuiet, (r) => r.perSecond);
    rows.push({
      workload: '2 drain',
      metric: 'tasks/s with LOG_LEVEL=warn (diagnostic)',
      value: v,
      unit: '/s',
      ...(graphileDrain && {
        against: 'graphile-worker',
        reference: graphileDrain,
        ratio: v.median / graphileDrain.median,
      }),
    });
  }
  if (profile) {
    console.log('\ndrain CPU profile, top self time:');
    for (const t of profile.top) console.log(`  ${(t.share * 100).toFixed(1).padStart(5)}%  ${t.fn}`);
  }
  if (pickup.length) {
    const p50 = over(pickup, (r) => r.p50Ms);
    const p99 = over(pickup, (r) => r.p99Ms);
    rows.push({
      workload: '3 pickup',
      metric: 'p50 (request → handler start)',
      value: p50,
      unit: 'ms',
      target: '≤ 3 ms',
      met: p50.median <= 3,
    });
    rows.push({ workload: '3 pickup', metric: 'p95', value: over(pickup, (r) => r.p95Ms), unit: 'ms' });
    rows.push({
      workload: '3 pickup',
      metric: 'p99',
      value: p99,
      unit: 'ms',
      target: '≤ 10 ms',
      met: p99.median <= 10,
    });
    rows.push({
      workload: '3 pickup',
      metric: 'p50 (db started_at − created_at)',
      value: over(pickup, (r) => r.dbP50Ms),
      unit: 'ms',
    });
    rows.push({
      workload: '3 pickup',
      metric: 'p99 (db started_at − created_at)',
      value: over(pickup, (r) => r.dbP99Ms),
      unit: 'ms',
    });
    for (const [peer, res] of Object.entries(peers)) {
      const p50peer = over(res, (r) => r.pickupP50Ms);
      const p99peer = over(res, (r) => r.pickupP99Ms);
      rows.push({
        workload: '3 pickup',
        metric: `p50 vs ${peer}`,
        value: p50,
        unit: 'ms',
        against: peer,
        reference: p50peer,
        ratio: p50.median / p50peer.median,
      });
      rows.push({
        workload: '3 pickup',
        metric: `p99 vs ${peer}`,
        value: p99,
        unit: 'ms',
        against: peer,
        reference: p99peer,
        ratio: p99.median / p99peer.median,
      });
    }
  }
  if (inflight.length) {
    const rss = over(inflight, (r) => r.peakRssMiB);
    const n = s.inflightTasks.toLocaleString('en-US');
    rows.push({
      workload: '4 in-flight',
      metric: `peak RSS, ${n} tasks`,
      value: rss,
      unit: 'MiB',
      target: '< 1024 MiB',
      met: rss.max < 1024 && inflight.every((r) => r.runningAtOnce === r.tasks),
    });
    rows.push({
      workload: '4 in-flight',
      metric: `peak heap used, ${n} tasks`,
      value: over(inflight, (r) => r.peakHeapUsedMiB),
      unit: 'MiB',
    });
    rows.push({
      workload: '4 in-flight',
      metric: `running at once, ${n} tasks`,
      value: over(inflight, (r) => r.runningAtOnce),
      unit: '',
    });
    rows.push({
      workload: '4 in-flight',
      metric: `ramp to all claimed, ${n} tasks`,
      value: over(inflight, (r) => r.rampSeconds),
      unit: 's',
    });
    const txBig = over(inflight, (r) => r.steadyTxPerSecond);
    rows.push({
      workload: '4 in-flight',
      metric: `db tx/s while ${n} run (lease upkeep)`,
      value: txBig,
      unit: '/s',
    });
    rows.push({
      workload: '4 in-flight',
      metric: `all ${n} completed`,
      value: over(inflight, (r) => (r.allCompleted ? 1 : 0)),
      unit: '(1 = yes)',
      met: inflight.every((r) => r.allCompleted),
    });
  }
  if (inflightSmall.length) {
    const n = s.smallInflightTasks.toLocaleString('en-US');
    const rss = over(inflightSmall, (r) => r.peakRssMiB);
    const txSmall = over(inflightSmall, (r) => r.steadyTxPerSecond);
    rows.push({
      workload: '4 in-flight',
      metric: `db tx/s while ${n} run (lease upkeep)`,
      value: txSmall,
      unit: '/s',
      ...(inflight.length && {
        // All transactions of the database count, including the claim loop's idle polls (about one a second
        // when slots are free, as at 5k; none at 100k, where every slot is taken): what must not happen is
        // growth with the number of tasks.
        target: 'O(1): no more at 100k than at 5k',
        met: over(inflight, (r) => r.steadyTxPerSecond).median <= txSmall.median + 1,
      }),
    });
    rows.push({ workload: '4 in-flight', metric: `peak RSS, ${n} tasks`, value: rss, unit: 'MiB' });
    const growth = over(inflightSmall, (r) => r.peakRssMiB - r.baselineRssMiB);
    for (const [peer, res] of Object.entries(peers)) {
      const withInflight = res.filter((r) => Number.isFinite(r.inflightPeakRssMiB));
      if (!withInflight.length) continue;
      const ref = over(withInflight, (r) => r.inflightPeakRssMiB);
      rows.push({
        workload: '4 in-flight',
        metric: `peak RSS, ${n} tasks vs ${peer}`,
        value: rss,
        unit: 'MiB',
        against: peer,
        reference: ref,
        ratio: rss.median / ref.median,
      });
      const refGrowth = over(withInflight, (r) => r.inflightPeakRssMiB - r.inflightBaselineRssMiB);
      rows.push({
        workload: '4 in-flight',
        metric: `RSS growth over idle, ${n} tasks vs ${peer}`,
        value: growth,
        unit: 'MiB',
        against: peer,
        reference: refGrowth,
        ratio: growth.median / refGrowth.median,
      });
    }
  }
  if (reads.length) {
    // Half the connections read each API (bench/ours.ts drainWorkload).
    for (const [label, pick] of [
      ['GET /task/check-result', (r: DrainResult) => r.reads],
      ['GET /v1/tasks/{id}', (r: DrainResult) => r.readsV1],
    ] as const) {
      const got = reads.map(pick).filter((r) => r !== undefined);
      if (!got.length) continue;
      const p99 = over(got, (r) => r.p99Ms);
      const conns = s.connections / 2;
      rows.push({
        workload: '5 read under load',
        metric: `${label} p50 (${conns} of ${s.connections} conns, during drain)`,
        value: over(got, (r) => r.p50Ms),
        unit: 'ms',
      });
      rows.push({
        workload: '5 read under load',
        metric: `${label} p99`,
        value: p99,
        unit: 'ms',
        target: '≤ 10 ms',
        met: p99.median <= 10,
      });
      rows.push({
        workload: '5 read under load',
        metric: `${label} GETs/s`,
        value: over(got, (r) => r.perSecond),
        unit: '/s',
      });
    }
    rows.push({
      workload: '5 read under load',
      metric: 'drain tasks/s meanwhile',
      value: over(reads, (r) => r.perSecond),
      unit: '/s',
    });
  }
  if (waiting.length) {
    const w = waiting[0]!;
    const n = `${w.polls.toLocaleString('en-US')} long-polls + ${w.streams.toLocaleString('en-US')} streams`;
    const p99 = over(waiting, (r) => r.p99Ms);
    rows.push({
      workload: '6 waiting',
      metric: `finished_at → answer p99, ${n}`,
      value: p99,
      unit: 'ms',
      target: '≤ 50 ms',
      met: p99.median <= 50 && waiting.every((r) => r.notTerminal === 0 && r.errors === 0),
    });
    rows.push({ workload: '6 waiting', metric: 'p50', value: over(waiting, (r) => r.p50Ms), unit: 'ms' });
    rows.push({
      workload: '6 waiting',
      metric: 'RSS per waiter',
      value: over(waiting, (r) => r.rssPerWaiterKiB),
      unit: 'KiB',
    });
    rows.push({
      workload: '6 waiting',
      metric: 'heap per waiter',
      value: over(waiting, (r) => r.heapPerWaiterKiB),
      unit: 'KiB',
    });
    const tx = over(waiting, (r) => r.waitingTxPerSecond);
    rows.push({
      workload: '6 waiting',
      metric: 'db tx/s while all wait',
      value: tx,
      unit: '/s',
      against: 'idle, no waiter',
      reference: over(waiting, (r) => r.idleTxPerSecond),
      target: 'no per-waiter db work',
      // Idle background work (heartbeat, samplers) only: a per-waiter poll would add thousands a second.
      met: waiting.every((r) => r.waitingTxPerSecond <= r.idleTxPerSecond + 2),
    });
    rows.push({
      workload: '6 waiting',
      metric: 'db tuples fetched/s while all wait',
      value: over(waiting, (r) => r.waitingTupFetchedPerSecond),
      unit: '/s',
      against: 'idle, no waiter',
      reference: over(waiting, (r) => r.idleTupFetchedPerSecond),
    });
    results.waiting = waiting;
  }
  if (webhooks.length) {
    const rate = over(webhooks, (r) => r.deliveriesPerSecond);
    rows.push({
      workload: '9 webhooks',
      metric: `deliveries/s, signed (${webhooks[0]!.tasks.toLocaleString('en-US')} tasks)`,
      value: rate,
      unit: '/s',
      target: '≥ 2,000/s',
      met:
        rate.median >= 2000 &&
        webhooks.every((r) => r.verified === r.tasks && r.badSignatures === 0 && r.delivered === r.tasks),
    });
    rows.push({
      workload: '9 webhooks',
      metric: `http kind tasks/s (${webhooks[0]!.httpTasks.toLocaleString('en-US')} tasks)`,
      value: over(webhooks, (r) => r.httpTasksPerSecond),
      unit: '/s',
    });
    results.webhooks = webhooks;
  }
  if (storage.length) {
    const ratio = over(storage, (r) => r.costRatio);
    rows.push({
      workload: '8 storage',
      metric: `drain tasks/s with ${storage[0]!.filled.label}`,
      value: over(storage, (r) => r.filled.perSecond),
      unit: '/s',
      against: 'empty table',
      reference: over(storage, (r) => r.empty.perSecond),
      ratio: over(storage, (r) => r.rateRatio).median,
      target: '≥ 1/1.2×',
      met: over(storage, (r) => r.rateRatio).median >= 1 / 1.2,
    });
    rows.push({
      workload: '8 storage',
      metric: 'statement time per task',
      value: over(storage, (r) => r.filled.activeMsPerTask),
      unit: 'ms',
      against: 'empty table',
      reference: over(storage, (r) => r.empty.activeMsPerTask),
      ratio: ratio.median,
      target: '≤ 1.2×',
      met: ratio.median <= 1.2,
    });
    results.storage = storage;
  }
  for (const [peer, res] of Object.entries(peers)) {
    rows.push({
      workload: `peer ${peer}`,
      metric: `enqueue/s (${s.peerEnqueueCallers} callers, in-process)`,
      value: over(res, (r) => r.enqueuePerSecond),
      unit: '/s',
    });
    rows.push({
      workload: `peer ${peer}`,
      metric: 'drain jobs/s',
      value: over(res, (r) => r.drainPerSecond),
      unit: '/s',
    });
    rows.push({
      workload: `peer ${peer}`,
      metric: 'pickup p50 / p99',
      value: over(res, (r) => r.pickupP50Ms),
      unit: 'ms',
    });
    rows.push({
      workload: `peer ${peer}`,
      metric: 'pickup p99',
      value: over(res, (r) => r.pickupP99Ms),
      unit: 'ms',
    });
  }

  const table = printTable(rows);
  console.log(`\ntaskd benchmark ${stamp} (${args.quick ? 'quick' : 'full'}, ${args.rounds} rounds)\n`);
  console.log(table);
  for (const p of plan) {
    console.log(
      `\nclaim plan — ${p.label} (${p.rowsInTable.toLocaleString('en-US')} rows): execution ${p.executionMs} ms, planning ${p.planningMs} ms, shared hit ${p.sharedHit}, read ${p.sharedRead}\n${p.plan}`,
    );
  }

  Object.assign(results, {
    start,
    create,
    createV1,
    drain,
    drainV1,
    reads,
    pickup,
    inflight,
    inflightSmall,
    limit,
    plan,
    peers,
    peerErrors,
  });
  const out = {
    date: started.toISOString(),
    mode: args.quick ? 'quick' : 'full',
    workloads: [...args.only],
    rounds: args.rounds,
    inflightRounds: args.inflightRounds,
    settings: s,
    machine,
    table: rows,
    results,
  };
  const dir = `${ROOT}bench/results`;
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}/${stamp}.json`, `${JSON.stringify(out, null, 2)}\n`);
  const svg = chart(
    rows,
    `${machine.cpu}; node ${machine.node}; ${args.quick ? 'quick' : 'full'} run ${stamp}`,
  );
  await writeFile(`${dir}/${stamp}.svg`, svg);
  await writeFile(`${dir}/${stamp}.md`, `${table}\n`);
  log(`wrote bench/results/${stamp}.json, .svg and .md`);
}

function chart(rows: Row[], subtitle: string): string {
  const bar = (label: string, sp: Spread | undefined, kind: Bar['kind']): Bar[] =>
    sp && Number.isFinite(sp.median) ? [{ label, median: sp.median, min: sp.min, max: sp.max, kind }] : [];
  const find = (workload: string, metric: string) =>
    rows.find((r) => r.workload === workload && r.metric.startsWith(metric));
  const peerRows = (workload: string, prefix: string) =>
    rows.filter((r) => r.workload === workload && r.metric.startsWith(prefix) && r.against && r.reference);
  const panels: Panel[] = [];
  panels.push({
    title: 'Start → GET /readyz 200',
    unit: 'ms',
    bars: [
      ...bar('npm start, fresh database', find('start', 'npm start → GET /readyz 200, fresh')?.value, 'ours'),
      ...bar(
        'npm start, restart',
        find('start', 'npm start → GET /readyz 200, database already')?.value,
        'ours',
      ),
      ...bar('node dist/main.js, fresh database', find('start', 'node dist/main.js')?.value, 'ours'),
      ...bar(
        'npm start, embedded PostgreSQL',
        find('start', 'npm start → GET /readyz 200, embedded')?.value,
        'ours',
      ),
    ],
  });
  const create = find('1 create', 'creates/s (64');
  panels.push({
    title: 'Create / enqueue rate',
    unit: 'per second',
    bars: [
      ...bar('taskd POST /task/create', create?.value, 'ours'),
      ...bar('raw single-row INSERT', find('limit', 'single-row INSERT')?.value, 'limit'),
      ...peerRows('1 create', 'creates/s vs').flatMap((r) =>
        bar(`${r.against} enqueue`, r.reference, 'peer'),
      ),
    ],
  });
  const drain = find('2 drain', 'tasks/s (');
  panels.push({
    title: 'Drain of queued no-op tasks',
    unit: 'per second',
    bars: [
      ...bar('taskd', drain?.value, 'ours'),
      ...bar('raw claim + complete', find('limit', 'single-row claim')?.value, 'limit'),
      ...peerRows('2 drain', 'tasks/s vs').flatMap((r) => bar(r.against!, r.reference, 'peer')),
    ],
  });
  panels.push({
    title: 'Pickup latency p50 at idle',
    unit: 'ms',
    bars: [
      ...bar('taskd', find('3 pickup', 'p50 (request')?.value, 'ours'),
      ...peerRows('3 pickup', 'p50 vs').flatMap((r) => bar(r.against!, r.reference, 'peer')),
    ],
  });
  panels.push({
    title: 'Pickup latency p99 at idle',
    unit: 'ms',
    bars: [
      ...bar('taskd', find('3 pickup', 'p99')?.value, 'ours'),
      ...peerRows('3 pickup', 'p99 vs').flatMap((r) => bar(r.against!, r.reference, 'peer')),
    ],
  });
  const small = rows.find((r) => r.workload === '4 in-flight' && r.metric.startsWith('RSS growth over idle'));
  panels.push({
    title: 'RSS growth with 5,000 jobs in flight',
    unit: 'MiB',
    bars: [
      ...bar('taskd', small?.value, 'ours'),
      ...peerRows('4 in-flight', 'RSS growth').flatMap((r) => bar(r.against!, r.reference, 'peer')),
    ],
  });
  panels.push({
    title: 'Reads under load (GET /task/check-result during a drain)',
    unit: 'ms',
    bars: [
      ...bar('p50', find('5 read under load', 'GET /task/check-result p50')?.value, 'ours'),
      ...bar('p99', find('5 read under load', 'GET /task/check-result p99')?.value, 'ours'),
      ...bar('v1 p99', find('5 read under load', 'GET /v1/tasks/{id} p99')?.value, 'ours'),
    ],
  });
  return renderChart(
    'taskd benchmark',
    subtitle,
    panels.filter((p) => p.bars.length > 0),
  );
}

// Interrupted: drop the databases made so far (the services, children of this process, get SIGTERM too).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}; dropping the benchmark databases`);
    void dropAllCreated().finally(() => process.exit(130));
  });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(err);
    await dropAllCreated();
    process.exit(1);
  },
);
