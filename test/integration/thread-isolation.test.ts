import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

interface Task {
  id: string;
  state: string;
  result: unknown;
  error: { type: string; message: string } | null;
  progress: { percent: number | null; message: string | null } | null;
}

const databases: TestDatabase[] = [];
const dirs: string[] = [];
after(async () => {
  for (const db of databases) await db.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Spins on the CPU, ignoring its signal, when asked; otherwise reports progress and a log line, and answers. */
const SPIN = `
export default {
  isolation: 'thread',
  maxAttempts: 1,
  run(input, ctx) {
    if (input && input.spin) for (;;) {}
    ctx.progress(40, 'nearly');
    ctx.log.info({ from: 'thread' }, 'thread says hello');
    return { n: input.n, doubled: input.n * 2 };
  },
};
`;

async function post(base: string, p: string, body?: unknown): Promise<Task> {
  const res = await fetch(`${base}${p}`, {
    method: 'POST',
    ...(body !== undefined && {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  });
  return (await res.json()) as Task;
}
const get = async (base: string, p: string) => (await (await fetch(`${base}${p}`)).json()) as Task;

/** The process's threads, as the kernel counts them. */
function threadCount(pid: number): number {
  return Number(/^Threads:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

async function spinServer(): Promise<{ s: ServerProcess; db: TestDatabase }> {
  const db = await createTestDatabase();
  databases.push(db);
  mkdirSync('.tmp', { recursive: true });
  const dir = mkdtempSync(path.resolve('.tmp/threads-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'spin.mjs'), SPIN);
  // trace: heartbeats are logged, so the test sees them go on during the spin.
  const s = await startServer({
    DATABASE_URL: db.url,
    HANDLERS_DIR: dir,
    HANDLER_THREADS: '1',
    LOG_LEVEL: 'trace',
  });
  return { s, db };
}

test('a thread handler that spins on the CPU neither blocks the process nor outlives its deadline (real process)', async () => {
  const { s } = await spinServer();
  try {
    // A run that ends normally: its result, progress and log line come back from the thread.
    const first = await post(s.url, '/v1/tasks?wait=20', { kind: 'spin', input: { n: 21 } });
    assert.equal(first.state, 'completed');
    assert.deepEqual(first.result, { n: 21, doubled: 42 });
    assert.deepEqual([first.progress?.percent, first.progress?.message], [40, 'nearly']);
    await s.waitForLog((l) => l.msg === 'thread says hello' && l.task_id === first.id && l.from === 'thread');
    const baseline = threadCount(s.pid); // with the pool's one thread alive

    const spin = await post(s.url, '/v1/tasks', { kind: 'spin', input: { spin: true }, timeout_ms: 3000 });
    await s.waitForEvent('task.started', (l) => l.task_id === spin.id);
    const from = s.logs.length;
    // While the thread spins: the heartbeat keeps beating, /healthz answers, and the task is still running.
    await s.waitForLog((l) => l.event === 'worker.heartbeat' && s.logs.indexOf(l) >= from, 5000);
    const health = await fetch(`${s.url}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await get(s.url, `/v1/tasks/${spin.id}`)).state, 'running');

    const ended = await get(s.url, `/v1/tasks/${spin.id}?wait=20`);
    assert.equal(ended.state, 'failed');
    assert.deepEqual(ended.error, { type: 'timeout', message: 'task timed out after 3000 ms' });
    // The thread was terminated, not left spinning: piscina ended it, the kernel counts it gone, and the pool's
    // only thread is free for the next task of the kind.
    await s.waitForEvent('handler_thread.ended', (l) => s.logs.indexOf(l) >= from, 10_000);
    await waitFor('the spinning thread to exit', () => threadCount(s.pid) < baseline);
    const next = await post(s.url, '/v1/tasks?wait=20', { kind: 'spin', input: { n: 2 } });
    assert.equal(next.state, 'completed');
    await waitFor('as many threads as before the spin', () => threadCount(s.pid) <= baseline);
    // The handler did not stay behind as a stuck run.
    assert.equal(s.logs.filter((l) => l.event === 'handler.stuck').length, 0);
    assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
  } finally {
    await s.close();
  }
});

test('cancelling a running thread handler terminates its thread (real process)', async () => {
  const { s } = await spinServer();
  try {
    const spin = await post(s.url, '/v1/tasks', { kind: 'spin', input: { spin: true }, timeout_ms: 600_000 });
    await s.waitForEvent('task.started', (l) => l.task_id === spin.id);
    await s.waitForEvent('handler_thread.started');
    const from = s.logs.length;
    const cancelled = await post(s.url, `/v1/tasks/${spin.id}/cancel`);
    assert.equal(cancelled.state, 'cancelled');
    await s.waitForEvent('handler_thread.ended', (l) => s.logs.indexOf(l) >= from && l.threads === 0, 10_000);
    // HANDLER_THREADS=1: the next task runs only if the spinning thread is gone.
    const next = await post(s.url, '/v1/tasks?wait=20', { kind: 'spin', input: { n: 5 } });
    assert.equal(next.state, 'completed');
    assert.deepEqual(next.result, { n: 5, doubled: 10 });
  } finally {
    await s.close();
  }
});
