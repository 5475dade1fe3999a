/**
 * Stalled process: one of two processes is frozen (SIGSTOP) for longer than its lease, as a long GC pause, a
 * swapped-out or suspended VM would do, while tasks wait in the queue. The other process declares it dead. When
 * it wakes up (SIGCONT) it must learn that it lost its lease, and no task may be left "running" for good: every
 * task ends completed or failed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase, allFinished } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { isStarted, workerIds } from './helpers/cluster.js';
import { CreateLoad } from './helpers/load.js';
import { report, round, tally } from './helpers/report.js';
import { runAlone } from './helpers/serial.js';

const LEASE_MS = 2000;
const TASKS = 1500;

interface Row {
  id: string;
  state: string;
  failure: string | null;
  owner: string | null;
  attempt: number;
}

describe('fault: stalled process (SIGSTOP longer than the lease, then SIGCONT)', () => {
  let release: (() => Promise<void>) | undefined;
  let db: TestDatabase;
  let frozen: ServerProcess;
  let survivor: ServerProcess;
  let load: CreateLoad;
  let rows: Row[] = [];
  let frozenWorker = '';
  let finishedMs = NaN;

  before(async () => {
    release = await runAlone();
    db = await createTestDatabase();
    const env = {
      DATABASE_URL: db.url,
      LEASE_MS: String(LEASE_MS),
      SIMULATE_MIN_MS: '100',
      SIMULATE_MAX_MS: '300',
      POLL_INTERVAL_MS: '200',
    };
    frozen = await startServer({ ...env, WORKER_CONCURRENCY: '200' });
    // The survivor works slowly, so that a queue is waiting when the frozen process wakes up.
    survivor = await startServer({ ...env, WORKER_CONCURRENCY: '20' });
    frozenWorker = workerIds(frozen)[0]!;

    process.kill(frozen.pid, 'SIGSTOP');
    load = new CreateLoad({
      targets: () => [survivor.url],
      ratePerSecond: 1000,
      maxInFlight: 50,
      total: TASKS,
    }).start();
    await load.finished();
    await survivor.waitForEvent('worker.reaped', (l) => l.worker_id === frozenWorker, 15_000);
    process.kill(frozen.pid, 'SIGCONT');
    const resumedAt = performance.now();
    await frozen.waitForEvent('worker.lease_lost', undefined, 15_000);

    await waitFor('every task finished', () => allFinished(db.pool), {
      timeoutMs: 15_000,
      intervalMs: 200,
    }).catch(() => undefined);
    finishedMs = performance.now() - resumedAt;
    rows = (await db.pool.query<Row>('SELECT id, state::text, failure, owner, attempt FROM taskd.tasks'))
      .rows;

    const reapedAt = Number(
      survivor.logs.find((l) => String(l.msg).startsWith('lost worker recovered'))?.time,
    );
    const stuck = rows.filter((r) => r.state === 'running');
    const startedAfterReap = frozen.logs.filter(
      (l) => isStarted(l) && l.worker_id === frozenWorker && Number(l.time) > reapedAt,
    );
    report('stall', {
      lease_ms: LEASE_MS,
      tasks_accepted: load.accepted.length,
      by_state: tally(rows.map((r) => r.state)),
      by_failure: tally(rows.flatMap((r) => r.failure ?? [])),
      frozen_worker: frozenWorker,
      frozen_worker_ids: workerIds(frozen),
      claimed_under_the_reaped_id_after_the_reap: startedAfterReap.length,
      stuck_running: stuck.length,
      stuck_by_owner: tally(stuck.map((r) => r.owner)),
      stuck_examples: stuck.slice(0, 3).map((r) => r.id),
      stuck_started_by_frozen_process_as: tally(
        stuck.map((r) => frozen.logs.find((l) => isStarted(l) && l.task_id === r.id)?.worker_id),
      ),
      stuck_last_log_line: tally(stuck.map((r) => frozen.logs.findLast((l) => l.task_id === r.id)?.msg)),
      resumed_to_all_finished_ms: round(finishedMs),
    });
  });

  after(async () => {
    if (frozen) process.kill(frozen.pid, 'SIGCONT');
    await load?.stop();
    await frozen?.close();
    await survivor?.close();
    await db?.drop();
    await release?.();
  });

  test('the survivor declared the frozen process dead, and it noticed when it woke up', () => {
    assert.ok(
      frozen.logs.some((l) => String(l.msg).startsWith('lease lost') && l.worker_id === frozenWorker),
    );
    assert.equal(workerIds(frozen).length, 2, 'registered again under a new id');
  });

  test('every task that got a 201 exists, and none ran twice', () => {
    const ids = new Set(rows.map((r) => r.id));
    assert.deepEqual(
      load.accepted.filter((id) => !ids.has(id)),
      [],
    );
    assert.deepEqual(
      rows.filter((r) => r.attempt > 1),
      [],
    );
  });

  test('no task is left running: every task ends completed or failed', () => {
    const stuck = rows.filter((r) => r.state === 'running' || r.state === 'queued');
    assert.deepEqual(
      stuck.map((r) => `${r.id} ${r.state} owner ${r.owner}`),
      [],
    );
  });
});
