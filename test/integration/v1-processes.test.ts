import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

interface Task {
  id: string;
  state: string;
  attempt: number;
  error: { type: string; message: string } | null;
  [k: string]: unknown;
}
interface Attempt {
  attempt: number;
  outcome: string;
  started_at: string;
  finished_at: string;
  worker_id: string;
}

const databases: TestDatabase[] = [];
after(async () => {
  for (const db of databases) await db.drop();
});

async function post(base: string, path: string, body: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: path.endsWith('/queues/limited') ? 'PATCH' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Task;
}
const get = async <T>(base: string, path: string) => (await (await fetch(`${base}${path}`)).json()) as T;

test('retries wait a backoff that grows with each retry, up to its cap (real process)', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const s = await startServer({
    DATABASE_URL: db.url,
    RETRY_BACKOFF_BASE_MS: '200',
    RETRY_BACKOFF_MAX_MS: '10000',
  });
  const task = await post(s.url, '/v1/tasks', {
    kind: 'simulate',
    input: { ms: 0, fail: 'not yet', fail_attempts: 3 },
    max_attempts: 4,
  });
  await waitFor(
    'completed',
    async () => (await get<Task>(s.url, `/v1/tasks/${task.id}`)).state === 'completed',
    {
      timeoutMs: 15_000,
    },
  );
  const { attempts } = await get<{ attempts: Attempt[] }>(s.url, `/v1/tasks/${task.id}/attempts`);
  assert.deepEqual(
    attempts.map((a) => [a.attempt, a.outcome]),
    [
      [1, 'retried'],
      [2, 'retried'],
      [3, 'retried'],
      [4, 'completed'],
    ],
  );
  // The wait before retry n is a random time up to 200 ms · 2^(n-1) (full jitter), plus the promotion tick
  // (250 ms) and the claim: never more than that.
  for (let n = 1; n <= 3; n++) {
    const gap = Date.parse(attempts[n]!.started_at) - Date.parse(attempts[n - 1]!.finished_at);
    assert.ok(gap >= 0 && gap <= 200 * 2 ** (n - 1) + 1000, `gap before retry ${n}: ${gap} ms`);
  }
});

test('a graceful shutdown puts a v1 task with attempts left back in the queue, and another instance runs it', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const a = await startServer({ DATABASE_URL: db.url, SHUTDOWN_GRACE_MS: '200' });
  const long = await post(a.url, '/v1/tasks', { kind: 'simulate', input: { ms: 60_000 }, max_attempts: 2 });
  await waitFor(
    'running on a',
    async () => (await get<Task>(a.url, `/v1/tasks/${long.id}`)).state === 'running',
  );
  a.kill('SIGTERM');
  assert.equal((await a.exited).code, 0);
  const afterShutdown = await db.pool.query<{ state: string }>(
    'SELECT state::text FROM taskd.tasks WHERE id = $1',
    [long.id],
  );
  assert.equal(afterShutdown.rows[0]?.state, 'queued');
  const b = await startServer({ DATABASE_URL: db.url });
  await waitFor('running on b', async () => {
    const t = await get<Task>(b.url, `/v1/tasks/${long.id}`);
    return t.state === 'running' && t.attempt === 2;
  });
  const { attempts } = await get<{ attempts: Attempt[] }>(b.url, `/v1/tasks/${long.id}/attempts`);
  assert.deepEqual(
    attempts.map((x) => x.outcome),
    ['requeued', 'running'],
  );
});

test('a queue concurrency limit holds across two real processes', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const env = { DATABASE_URL: db.url, WORKER_CONCURRENCY: '20', POLL_INTERVAL_MS: '50' };
  const [a, b] = await Promise.all([startServer(env), startServer(env)]);
  await post(a.url, '/v1/queues/limited', { concurrency: 3 });
  for (let i = 0; i < 12; i++)
    await post(i % 2 ? a.url : b.url, '/v1/tasks', {
      kind: 'simulate',
      queue: 'limited',
      input: { ms: 300 },
    });
  let maxRunning = 0;
  await waitFor(
    'all completed',
    async () => {
      const { rows } = await db.pool.query<{ state: string; n: number }>(
        "SELECT state::text, count(*)::int AS n FROM taskd.tasks WHERE queue = 'limited' GROUP BY state",
      );
      const running = rows.find((r) => r.state === 'running')?.n ?? 0;
      maxRunning = Math.max(maxRunning, running);
      return rows.length === 1 && rows[0]!.state === 'completed';
    },
    { timeoutMs: 20_000, intervalMs: 20 },
  );
  assert.ok(maxRunning <= 3, `never more than 3 running at once, saw ${maxRunning}`);
  assert.equal(maxRunning, 3, 'the limit was used');
});

test('the event stream of a task carries its progress as the handler reports it', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const s = await startServer({ DATABASE_URL: db.url, PROGRESS_INTERVAL_MS: '100' });
  const created = await post(s.url, '/v1/tasks', { kind: 'simulate', input: { ms: 1500, steps: 5 } });
  const res = await fetch(`${s.url}/v1/tasks/${created.id}/events`);
  assert.equal(res.status, 200);
  let text = '';
  for await (const chunk of res.body!) text += Buffer.from(chunk as Uint8Array).toString('utf8');
  const tasks = text
    .split('\n\n')
    .filter((e) => e.includes('event: task'))
    .map(
      (e) =>
        JSON.parse(
          e
            .split('\n')
            .find((l) => l.startsWith('data: '))!
            .slice(6),
        ) as Task & {
          progress: { percent: number | null } | null;
        },
    );
  const percents = tasks.map((t) => t.progress?.percent).filter((p): p is number => typeof p === 'number');
  assert.ok(percents.length >= 2, `progress events: ${JSON.stringify(percents)}`);
  assert.deepEqual(
    percents,
    [...percents].sort((a, b) => a - b),
    'progress only grows',
  );
  assert.equal(tasks.at(-1)?.state, 'completed');
});

test("a task's own backoff wins over the service's default", async () => {
  const db = await createTestDatabase();
  databases.push(db);
  // The default would keep each retry waiting up to a minute.
  const s = await startServer({ DATABASE_URL: db.url, RETRY_BACKOFF_BASE_MS: '60000' });
  const task = await post(s.url, '/v1/tasks', {
    kind: 'simulate',
    input: { ms: 0, fail: 'not yet', fail_attempts: 2 },
    max_attempts: 3,
    backoff: { base_ms: 50, max_ms: 100 },
  });
  await waitFor(
    'completed',
    async () => (await get<Task>(s.url, `/v1/tasks/${task.id}`)).state === 'completed',
    {
      timeoutMs: 10_000,
    },
  );
  const { attempts } = await get<{ attempts: Attempt[] }>(s.url, `/v1/tasks/${task.id}/attempts`);
  for (let n = 1; n < attempts.length; n++) {
    const gap = Date.parse(attempts[n]!.started_at) - Date.parse(attempts[n - 1]!.finished_at);
    assert.ok(gap <= 100 + 1000, `gap before retry ${n}: ${gap} ms`);
  }
});
