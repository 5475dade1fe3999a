/**
 * Crash storm: three processes share one database while creates keep arriving; every few seconds one of them
 * is killed with SIGKILL and started again. Afterwards every accepted task must exist and be finished, no task
 * may have run or completed twice, and every task that failed "worker lost" must have belonged to a killed
 * process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { waitFor } from '../helpers/wait.js';
import {
  Cluster,
  countBy,
  isStarted,
  isStatusChange,
  isWorkerRecovered,
  workerIds,
} from './helpers/cluster.js';
import { CreateLoad } from './helpers/load.js';
import { quantile, report, round } from './helpers/report.js';
import { runAlone } from './helpers/serial.js';

const LEASE_MS = 2000;
const SIMULATE_MAX_MS = 2000;
const TASKS = 5000;
const STORM_MS = 40_000;
/** After the storm, every task must be finished within the lease, the longest run, and this margin. */
const SETTLE_MARGIN_MS = 8000;

interface Row {
  id: string;
  state: string;
  failure: string | null;
  attempt: number;
  owner: string | null;
}

interface Kill {
  slot: number;
  pid: number;
  at: number;
  workers: string[];
}

describe('fault: crash storm (kill -9 of random instances under load)', () => {
  let release: (() => Promise<void>) | undefined;
  let db: TestDatabase;
  let cluster: Cluster;
  let load: CreateLoad;
  const kills: Kill[] = [];
  let rows: Row[] = [];
  let quiesceMs = NaN;

  before(async () => {
    release = await runAlone();
    db = await createTestDatabase();
    cluster = new Cluster(
      {
        DATABASE_URL: db.url,
        LEASE_MS: String(LEASE_MS),
        SIMULATE_MIN_MS: '0',
        SIMULATE_MAX_MS: String(SIMULATE_MAX_MS),
        WORKER_CONCURRENCY: '300',
        POLL_INTERVAL_MS: '200',
        DB_POOL_SIZE: '8',
      },
      3,
    );
    await cluster.start();
    load = new CreateLoad({
      targets: () => cluster.liveUrls(),
      ratePerSecond: Math.ceil(TASKS / ((STORM_MS - 5000) / 1000)),
      maxInFlight: 64,
      total: TASKS,
    }).start();

    // The storm's schedule: a kill every 2-4 s, each followed at once by a restart of that slot.
    const stormEnds = Date.now() + STORM_MS;
    for (let round = 0; round < 100 && Date.now() < stormEnds; round++) {
      await sleep(2000 + Math.random() * 2000);
      const slot = Math.floor(Math.random() * cluster.size);
      const victim = cluster.slot(slot)!;
      const kill: Kill = { slot, pid: victim.pid, at: Date.now(), workers: workerIds(victim) };
      await cluster.kill9(slot);
      kills.push(kill);
      await cluster.startSlot(slot);
    }
    await load.stop();
    const stormEnd = performance.now();
    await waitFor(
      'every task finished and every dead worker reaped',
      async () => {
        const { rows: r } = await db.pool.query<{ open: number; workers: number }>(
          `SELECT (SELECT count(*)::int FROM taskd.tasks WHERE state IN ('queued', 'running')) AS open,
                  (SELECT count(*)::int FROM taskd.workers) AS workers`,
        );
        return r[0]!.open === 0 && r[0]!.workers === cluster.size;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch(() => undefined);
    quiesceMs = performance.now() - stormEnd;
    rows = (await db.pool.query<Row>('SELECT id, state::text, failure, attempt, owner FROM taskd.tasks'))
      .rows;

    const started = cluster.logs(isStarted);
    const recovered = cluster.logs(isWorkerRecovered);
    const recoveryMs = kills.flatMap((k) => {
      const line = recovered.find((l) => k.workers.includes(String(l.worker_id)));
      return line ? [Number(line.time) - k.at] : [];
    });
    report('crash-storm', {
      instances: cluster.size,
      kills: kills.length,
      create_answers: load.outcomes(),
      tasks_accepted: load.accepted.length,
      tasks_in_database: rows.length,
      by_state: Object.fromEntries(countBy(rows as never, 'state')),
      by_failure: Object.fromEntries(countBy(rows.filter((r) => r.failure) as never, 'failure')),
      task_started_lines: started.length,
      lost_worker_recovered_lines: recovered.length,
      recovery_after_kill_ms: {
        median: round(quantile(recoveryMs, 0.5)),
        max: round(Math.max(...recoveryMs)),
      },
      all_finished_after_storm_ms: round(quiesceMs),
    });
  });

  after(async () => {
    await load?.stop();
    await cluster?.closeAll();
    await db?.drop();
    await release?.();
  });

  test('the storm really happened: several kills, thousands of tasks', () => {
    assert.ok(kills.length >= 5, `only ${kills.length} kills`);
    assert.ok(load.accepted.length >= TASKS * 0.8, `only ${load.accepted.length} tasks accepted`);
  });

  test('every task that got a 201 exists', () => {
    const ids = new Set(rows.map((r) => r.id));
    const lost = load.accepted.filter((id) => !ids.has(id));
    assert.deepEqual(lost, []);
  });

  test('clients never got a 5xx other than 503, and every error answer was JSON', () => {
    assert.equal(load.count5xx(), 0, JSON.stringify(load.outcomes()));
    assert.deepEqual(load.badBodies, []);
  });

  test(`every task finished within LEASE_MS + ${SIMULATE_MAX_MS} + ${SETTLE_MARGIN_MS} ms of the storm's end`, () => {
    const open = rows.filter((r) => r.state === 'queued' || r.state === 'running');
    assert.deepEqual(open, []);
    assert.ok(quiesceMs <= LEASE_MS + SIMULATE_MAX_MS + SETTLE_MARGIN_MS, `took ${Math.round(quiesceMs)} ms`);
  });

  test('no task ran twice: one claim per task (attempt 1) and at most one "task started" line', () => {
    const reclaimed = rows.filter((r) => r.attempt !== 1);
    assert.deepEqual(reclaimed, []);
    const twice = [...countBy(cluster.logs(isStarted), 'task_id')].filter(([, n]) => n > 1);
    assert.deepEqual(twice, []);
  });

  test('no task completed twice, and every completion a process reported is the one in the database', () => {
    const completions = cluster.logs((l) => isStatusChange(l) && l.status === 'completed');
    const twice = [...countBy(completions, 'task_id')].filter(([, n]) => n > 1);
    assert.deepEqual(twice, []);
    const state = new Map(rows.map((r) => [r.id, r.state]));
    const contradicted = completions.filter((l) => state.get(String(l.task_id)) !== 'completed');
    assert.deepEqual(contradicted, []);
  });

  test('only tasks of killed processes failed, and they failed "worker_lost"', () => {
    const killedWorkers = new Set(kills.flatMap((k) => k.workers));
    const failed = rows.filter((r) => r.state === 'failed');
    const wrong = failed.filter((r) => r.failure !== 'worker_lost' || !killedWorkers.has(r.owner ?? ''));
    assert.deepEqual(wrong, []);
    // A live process never lost its lease in this run (it would have had to stall for LEASE_MS).
    assert.deepEqual(
      cluster.logs((l) => String(l.msg).startsWith('lease lost')),
      [],
    );
  });

  test('every killed worker was declared dead by a survivor', () => {
    const recovered = new Set(cluster.logs(isWorkerRecovered).map((l) => String(l.worker_id)));
    const owners = new Set(rows.filter((r) => r.failure === 'worker_lost').map((r) => r.owner));
    const unannounced = [...owners].filter((o) => !recovered.has(String(o)));
    assert.deepEqual(unannounced, []);
  });
});
