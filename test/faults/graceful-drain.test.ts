/**
 * Graceful drain: SIGTERM to a process that runs about a thousand tasks, some shorter and some longer than the
 * grace period, while creates keep arriving. No accepted create may be lost; clients get 503 JSON or a refused
 * connection, never a 500; every running task ends completed, or failed "shutdown", before the process exits
 * 0; and the process leaves no connection open on the database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { SHUTDOWN_STEPS, startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { countBy, isStarted } from './helpers/cluster.js';
import { CreateLoad } from './helpers/load.js';
import { report, round } from './helpers/report.js';
import { runAlone } from './helpers/serial.js';

const GRACE_MS = 3000;
const PRELOAD = 1000;
/** A request whose connection was closed under it, without an answer. */
const CUT_OFF = ['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE'];

interface Row {
  id: string;
  state: string;
  failure: string | null;
}

describe('fault: graceful drain (SIGTERM under load)', () => {
  let release: (() => Promise<void>) | undefined;
  let db: TestDatabase;
  let server: ServerProcess;
  let preload: CreateLoad;
  let load: CreateLoad;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let rows: Row[] = [];
  let runningAtSigterm = 0;
  let drainMs = NaN;
  let connectionsAtExit = NaN;
  let sigtermAt = NaN;
  let sigtermEpoch = NaN;

  const taskdConnections = async () =>
    (
      await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = $1 AND application_name IN ('taskd', 'taskd-listen')`,
        [db.name],
      )
    ).rows[0]!.n;

  before(async () => {
    release = await runAlone();
    db = await createTestDatabase();
    server = await startServer({
      DATABASE_URL: db.url,
      WORKER_CONCURRENCY: '5000',
      SIMULATE_MIN_MS: '500',
      SIMULATE_MAX_MS: '6000',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      LEASE_MS: '5000',
    });
    preload = new CreateLoad({
      targets: () => [server.url],
      ratePerSecond: 2000,
      maxInFlight: 100,
      total: PRELOAD,
    }).start();
    await preload.finished();
    runningAtSigterm = await waitFor(
      'most preloaded tasks running',
      async () => {
        const { rows: r } = await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM taskd.tasks WHERE state = 'running'`,
        );
        return r[0]!.n >= PRELOAD * 0.8 && r[0]!.n;
      },
      { timeoutMs: 20_000 },
    );

    load = new CreateLoad({ targets: () => [server.url], ratePerSecond: 150, maxInFlight: 50 }).start();
    await waitFor('steady creates', () => load.answers.length >= 100, { timeoutMs: 10_000 });
    sigtermAt = performance.now();
    sigtermEpoch = Date.now();
    server.kill('SIGTERM');
    exit = await Promise.race([
      server.exited,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), GRACE_MS + 30_000).unref()),
    ]);
    drainMs = performance.now() - sigtermAt;
    connectionsAtExit = await taskdConnections();
    const exitedAt = performance.now();
    // Clients keep trying after the exit: they must be refused, not hang.
    await waitFor('creates sent after the exit', () => load.answers.some((a) => a.sentAt > exitedAt + 200), {
      timeoutMs: 10_000,
    });
    await load.stop();
    rows = (await db.pool.query<Row>('SELECT id, state::text, failure FROM taskd.tasks')).rows;

    const started = new Set(server.logs.filter(isStarted).map((l) => String(l.task_id)));
    const ofStarted = rows.filter((r) => started.has(r.id));
    const duringDrain = load.answers.filter((a) => a.sentAt >= sigtermAt);
    report('graceful-drain', {
      running_at_sigterm: runningAtSigterm,
      grace_ms: GRACE_MS,
      exit,
      sigterm_to_exit_ms: round(drainMs),
      creates_before_sigterm_accepted: preload.accepted.length + load.accepted.length,
      answers_after_sigterm: countOutcomes(duringDrain.map((a) => a.outcome)),
      started_tasks_by_state: Object.fromEntries(countBy(ofStarted as never, 'state')),
      started_tasks_by_failure: Object.fromEntries(
        countBy(ofStarted.filter((r) => r.failure) as never, 'failure'),
      ),
      left_queued_for_other_processes: rows.filter((r) => r.state === 'queued').length,
      taskd_connections_right_after_exit: connectionsAtExit,
      tasks_in_database_without_a_201: rows.length - preload.accepted.length - load.accepted.length,
      resets: load.answers
        .filter((a) => CUT_OFF.includes(a.outcome))
        .map((a) => ({ sent_ms_after_sigterm: round(a.sentAtEpoch - sigtermEpoch), took_ms: round(a.ms) })),
      shutdown_log_ms_after_sigterm: Object.fromEntries(
        server.logs
          .filter((l) => SHUTDOWN_STEPS.includes(l.msg))
          .map((l) => [l.msg, round(Number(l.time) - sigtermEpoch)]),
      ),
    });
  });

  after(async () => {
    await preload?.stop();
    await load?.stop();
    await server?.close();
    await db?.drop();
    await release?.();
  });

  test('the process exits 0 after SIGTERM, within the grace period and a margin', () => {
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(drainMs < GRACE_MS + 10_000, `took ${Math.round(drainMs)} ms`);
    assert.ok(server.logs.some((l) => l.msg === 'shutdown complete'));
  });

  test('no create that got a 201 is lost', () => {
    const ids = new Set(rows.map((r) => r.id));
    const lost = [...preload.accepted, ...load.accepted].filter((id) => !ids.has(id));
    assert.deepEqual(lost, []);
  });

  test('clients got 201 or 503 JSON, never a 500, and after the exit a refused connection', () => {
    assert.equal(load.count5xx() + preload.count5xx(), 0, JSON.stringify(load.outcomes()));
    assert.deepEqual(load.badBodies, []);
    const unexpected = load.answers.filter(
      (a) => !['201', '503', 'ECONNREFUSED', ...CUT_OFF].includes(a.outcome),
    );
    assert.deepEqual(countOutcomes(unexpected.map((a) => a.outcome)), {});
    assert.ok(load.answers.some((a) => a.outcome === '503' && a.sentAt > sigtermAt));
  });

  // Once draining, every answer says `Connection: close`, so no request is left waiting on a kept-alive
  // connection. What remains is the kernel's: closing the listening socket resets connections that completed
  // their handshake but were not yet accepted. Such a request never reached the service (like a refused
  // connection), so it may only happen as the listener closes, and it must have created nothing.
  test('connections are cut only as the listener closes, and a cut request created nothing', () => {
    const at = (msg: string) => Number(server.logs.find((l) => l.msg === msg)?.time) - sigtermEpoch;
    const listenerClosing = at('worker deregistered');
    const listenerClosed = at('http server closed');
    const resets = load.answers.filter((a) => CUT_OFF.includes(a.outcome));
    for (const a of resets) {
      const cutAt = a.sentAtEpoch - sigtermEpoch + a.ms;
      assert.ok(
        cutAt >= listenerClosing && cutAt <= listenerClosed + 50,
        `a connection was cut ${Math.round(cutAt)} ms after SIGTERM, outside the listener's close (${listenerClosing}–${listenerClosed} ms)`,
      );
    }
    assert.equal(
      rows.length,
      preload.accepted.length + load.accepted.length,
      'every stored task got its 201',
    );
  });

  test('every task that started ended completed, or failed "shutdown", before the exit', () => {
    assert.ok(runningAtSigterm >= PRELOAD * 0.8);
    const started = new Set(server.logs.filter(isStarted).map((l) => String(l.task_id)));
    const bad = rows.filter(
      (r) =>
        started.has(r.id) && !(r.state === 'completed' || (r.state === 'failed' && r.failure === 'shutdown')),
    );
    assert.deepEqual(bad, []);
    assert.equal(rows.filter((r) => r.state === 'running').length, 0);
    // Some ran to the end within the grace period, the longer ones were cut off.
    assert.ok(rows.some((r) => r.failure === 'shutdown'));
  });

  test('no connection of the process is left open on the database', async () => {
    assert.ok(server.logs.some((l) => l.msg === 'database connections closed'));
    await waitFor('no taskd backend', async () => (await taskdConnections()) === 0, { timeoutMs: 5000 });
  });
});

function countOutcomes(outcomes: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of outcomes) out[o] = (out[o] ?? 0) + 1;
  return out;
}
