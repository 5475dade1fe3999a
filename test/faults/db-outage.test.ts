/**
 * Database outage: two processes under steady load lose their PostgreSQL for 15 s (pg_ctl stop on a server of
 * this scenario's own), then get it back. Creates during the outage must answer 503 JSON promptly; afterwards
 * the processes must recover by themselves, and every task that was running must end (finished or failed),
 * none left "running".
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { checkResult, createTask } from '../helpers/api.js';
import { waitFor } from '../helpers/wait.js';
import { Cluster } from './helpers/cluster.js';
import { CreateLoad } from './helpers/load.js';
import { OwnPostgres } from './helpers/own-postgres.js';
import { quantile, report, round, tally } from './helpers/report.js';
import { runAlone } from './helpers/serial.js';

const LEASE_MS = 2000;
const SIMULATE_MAX_MS = 3000;
const OUTAGE_MS = 15_000;
/** A create during the outage must be answered within this long. */
const PROMPT_MS = 5000;

interface Row {
  id: string;
  state: string;
  failure: string | null;
  owner: string | null;
}

describe('fault: database outage (PostgreSQL stopped for 15 s under load)', () => {
  let release: (() => Promise<void>) | undefined;
  let postgres: OwnPostgres | undefined;
  let pool: pg.Pool | undefined;
  let cluster: Cluster;
  let load: CreateLoad;
  let downAt = NaN;
  let upAt = NaN;
  let recoveryMs = NaN;
  const readyzDuringOutage: number[] = [];
  let rows: Row[] = [];
  let settledMs = NaN;
  let stoppedAt = NaN;
  let upBeginAt = NaN;
  let downEpoch = NaN;
  let runningBefore: string[] = [];

  before(async () => {
    release = await runAlone();
    postgres = await OwnPostgres.start();
    const url = await postgres.createDatabase('taskd_outage');
    pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on('error', () => {});
    cluster = new Cluster(
      {
        DATABASE_URL: url,
        LEASE_MS: String(LEASE_MS),
        SIMULATE_MIN_MS: '200',
        SIMULATE_MAX_MS: String(SIMULATE_MAX_MS),
        WORKER_CONCURRENCY: '200',
        POLL_INTERVAL_MS: '200',
        DB_POOL_SIZE: '8',
      },
      2,
    );
    await cluster.start();
    load = new CreateLoad({
      targets: () => cluster.liveUrls(),
      ratePerSecond: 40,
      maxInFlight: 400,
      timeoutMs: 20_000,
    }).start();
    await waitFor(
      'tasks running before the outage',
      async () => {
        const { rows: r } = await pool!.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM taskd.tasks WHERE state = 'running'`,
        );
        return load.accepted.length >= 100 && r[0]!.n >= 20;
      },
      { timeoutMs: 20_000 },
    );

    runningBefore = (
      await pool.query<{ id: string }>(`SELECT id FROM taskd.tasks WHERE state = 'running'`)
    ).rows.map((r) => r.id);
    downAt = performance.now();
    downEpoch = Date.now();
    await postgres.down();
    stoppedAt = performance.now();
    // The injected fault lasts OUTAGE_MS; meanwhile probe readiness once a second.
    for (let i = 0; i < OUTAGE_MS / 1000; i++) {
      const res = await fetch(`${cluster.liveUrls()[0]}/readyz`).catch(() => undefined);
      readyzDuringOutage.push(res?.status ?? 0);
      await sleep(Math.max(0, downAt + (i + 1) * 1000 - performance.now()));
    }
    upBeginAt = performance.now();
    await postgres.up();
    upAt = performance.now();

    await waitFor(
      'every process accepting creates again',
      async () => {
        for (const url of cluster.liveUrls()) {
          if ((await createTask(url, 'after the outage')).status !== 201) return false;
          if ((await fetch(`${url}/readyz`)).status !== 200) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    recoveryMs = performance.now() - upAt;
    await waitFor(
      'creates after the recovery',
      () => load.answers.filter((a) => a.sentAt > upAt).length >= 150,
      {
        timeoutMs: 20_000,
      },
    );
    await load.stop();
    const loadEnd = performance.now();
    await waitFor(
      'every task finished',
      async () => {
        const { rows: r } = await pool!.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM taskd.tasks WHERE state IN ('queued', 'running')`,
        );
        return r[0]!.n === 0;
      },
      { timeoutMs: LEASE_MS + SIMULATE_MAX_MS + 15_000, intervalMs: 200 },
    ).catch(() => undefined);
    settledMs = performance.now() - loadEnd;
    rows = (await pool.query<Row>('SELECT id, state::text, failure, owner FROM taskd.tasks')).rows;

    const during = load.answers.filter((a) => a.sentAt >= stoppedAt && a.sentAt + a.ms <= upBeginAt);
    const stuck = rows.filter((r) => r.state === 'running' || r.state === 'queued');
    report('db-outage', {
      instances: cluster.size,
      outage_ms: round(upAt - downAt),
      creates_during_outage: tally(during.map((a) => a.outcome)),
      latency_during_outage_ms: {
        median: round(
          quantile(
            during.map((a) => a.ms),
            0.5,
          ),
        ),
        max: round(Math.max(...during.map((a) => a.ms))),
      },
      readyz_during_outage: readyzDuringOutage,
      recovery_after_database_back_ms: round(recoveryMs),
      all_answers: load.outcomes(),
      tasks_accepted: load.accepted.length,
      by_state: tally(rows.map((r) => r.state)),
      by_failure: tally(rows.flatMap((r) => r.failure ?? [])),
      running_when_database_stopped: runningBefore.length,
      their_end: tally(
        runningBefore.map((id) => {
          const r = rows.find((x) => x.id === id);
          return `${r?.state}${r?.failure ? `/${r.failure}` : ''}`;
        }),
      ),
      engine_lines: tally(cluster.logs((l) => l.level >= 40).map((l) => l.msg)),
      stuck_after_deadline: stuck.length,
      outcome_write_lines: cluster
        .logs((l) => String(l.msg).includes('task outcomes'))
        .map((l) => ({
          msg: l.msg,
          pid: l.pid,
          ms_after_stop: round(Number(l.time) - downEpoch),
          tasks: l.tasks,
          err: l.err,
        })),
      stuck_examples: stuck.slice(0, 3).map((r) => ({ ...r, logs: logsOf(r.id) })),
      outcome_write_given_up_lines: cluster.logs((l) => l.msg === 'could not write task outcomes').length,
      lease_lost: cluster.logs((l) => String(l.msg).startsWith('lease lost')).map((l) => l.worker_id),
      workers_registered: (await pool.query<{ id: string }>('SELECT id FROM taskd.workers')).rows.map(
        (r) => r.id,
      ),
      stuck_by_owner: tally(stuck.map((r) => r.owner)),
      time_to_all_finished_ms: round(settledMs),
    });
  });

  const logsOf = (id: string) =>
    cluster
      .logs((l) => l.task_id === id)
      .map((l) => ({ msg: l.msg, pid: l.pid, worker_id: l.worker_id, status: l.status, outcome: l.outcome }));

  after(async () => {
    await load?.stop();
    await cluster?.closeAll();
    await pool?.end().catch(() => {});
    await postgres?.destroy();
    await release?.();
  });

  test('creates during the outage answer 503 JSON within a few seconds', () => {
    const during = load.answers.filter((a) => a.sentAt >= stoppedAt && a.sentAt + a.ms <= upBeginAt);
    assert.ok(during.length >= 100, `only ${during.length} creates during the outage`);
    const not503 = during.filter((a) => a.outcome !== '503');
    assert.deepEqual(
      tally(not503.map((a) => `${a.outcome} sent ${Math.round(a.sentAt - downAt)} ms into the outage`)),
      {},
    );
    assert.ok(Math.max(...during.map((a) => a.ms)) <= PROMPT_MS);
    assert.deepEqual(load.badBodies, []);
    assert.ok(
      readyzDuringOutage.slice(1).every((s) => s === 503),
      JSON.stringify(readyzDuringOutage),
    );
  });

  test('no 5xx other than 503 at any time', () => {
    assert.equal(load.count5xx(), 0, JSON.stringify(load.outcomes()));
  });

  test('the processes recover without a restart', () => {
    assert.ok(recoveryMs < 15_000, `recovered after ${Math.round(recoveryMs)} ms`);
    assert.equal(cluster.processes.length, cluster.size);
    assert.ok(cluster.processes.every((p) => p.logs.every((l) => l.msg !== 'shutdown requested')));
  });

  test('no task that got a 201 is lost', () => {
    const ids = new Set(rows.map((r) => r.id));
    assert.deepEqual(
      load.accepted.filter((id) => !ids.has(id)),
      [],
    );
  });

  test('every task that was running finished or failed: none stuck', async () => {
    const stuck = rows.filter((r) => r.state === 'running' || r.state === 'queued');
    assert.deepEqual(
      stuck.map((r) => r.id),
      [],
    );
    for (const r of rows.slice(0, 20)) {
      const res = await checkResult(cluster.liveUrls()[0]!, r.id);
      assert.notEqual(res.body.Status, 'in progress');
    }
  });
});
