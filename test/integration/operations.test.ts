import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { api } from '../helpers/browser.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

interface TaskLike {
  id: string;
  state: string;
  attempt: number;
}

async function post(base: string, path: string, body: unknown) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Reads Server-Sent Events from `url` until `until` says enough, or the time is up. */
async function readEvents(url: string, start: () => Promise<void>, until: (events: string[]) => boolean) {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 15_000);
  const res = await fetch(url, { signal: stop.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: string[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let started = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      const blocks = buffer.split('\n\n');
      buffer = blocks.pop()!;
      for (const block of blocks) if (!block.startsWith(':')) events.push(block);
      if (!started && events.some((e) => e.startsWith('event: ready'))) {
        started = true;
        await start();
      }
      if (until(events)) break;
    }
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
  return events;
}

describe('operations endpoints: stats, workers, bulk actions, the change stream', () => {
  let db: TestDatabase;
  let server: ServerProcess;

  before(async () => {
    db = await createTestDatabase();
    server = await startServer({ DATABASE_URL: db.url, SIMULATE_MIN_MS: '60000', SIMULATE_MAX_MS: '90000' });
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  test('GET /v1/stats counts the last hour by final state, with latencies, over the window and per minute', async () => {
    const { tasks } = await api<{ tasks: TaskLike[] }>(server.url, 'POST', '/v1/tasks/batch', {
      tasks: Array.from({ length: 4 }, () => ({ kind: 'noop', queue: 'stats' })),
    });
    await waitFor('the noop tasks to complete', async () => {
      const page = await api<{ tasks: TaskLike[] }>(
        server.url,
        'GET',
        '/v1/tasks?queue=stats&state=completed',
      );
      return page.tasks.length === tasks.length;
    });
    // One finished an hour and a half ago: outside the window.
    await db.pool.query(
      "UPDATE taskd.tasks SET finished_at = now() - interval '90 minutes', started_at = now() - interval '91 minutes' WHERE id = $1",
      [tasks[0]!.id],
    );
    const stats = await api<{
      window_s: number;
      bucket_s: number;
      totals: { completed: number; failed: number; run_ms: { p50: number | null; p95: number | null } };
      buckets: { start: string; completed: number }[];
    }>(server.url, 'GET', '/v1/stats');
    assert.equal(stats.window_s, 3600);
    assert.equal(stats.bucket_s, 60);
    assert.equal(stats.totals.completed, 3);
    assert.equal(stats.totals.failed, 0);
    assert.ok(stats.totals.run_ms.p50 !== null && stats.totals.run_ms.p95! >= stats.totals.run_ms.p50);
    assert.equal(
      stats.buckets.reduce((n, b) => n + b.completed, 0),
      3,
    );
    for (const b of stats.buckets) assert.equal(Date.parse(b.start) % 60_000, 0);
    const day = await api<{ totals: { completed: number }; bucket_s: number }>(
      server.url,
      'GET',
      '/v1/stats?window=86400',
    );
    assert.equal(day.totals.completed, 4);
    assert.equal(day.bucket_s, 1440);

    for (const q of ['window=10', 'window=86401', 'window=abc', 'other=1']) {
      const res = await fetch(`${server.url}/v1/stats?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(((await res.json()) as { code: string }).code, 'invalid_request');
    }
  });

  test('GET /v1/workers lists this process: host, pid, its running tasks, the leadership', async () => {
    const running = await api<TaskLike>(server.url, 'POST', '/v1/tasks', {
      kind: 'simulate',
      queue: 'workers',
    });
    await waitFor(
      'the task to run',
      async () => (await api<TaskLike>(server.url, 'GET', `/v1/tasks/${running.id}`)).state === 'running',
    );
    const { workers } = await api<{
      workers: {
        id: string;
        pid: number;
        running: number;
        leader: boolean;
        last_heartbeat_at: string;
        lease_expires_at: string;
        concurrency: number;
      }[];
    }>(server.url, 'GET', '/v1/workers');
    assert.equal(workers.length, 1);
    const [w] = workers;
    assert.equal(w!.pid, server.pid);
    assert.equal(w!.leader, true);
    assert.ok(w!.running >= 1);
    assert.ok(Date.parse(w!.last_heartbeat_at) < Date.parse(w!.lease_expires_at));
    await api(server.url, 'POST', `/v1/tasks/${running.id}/cancel`);
  });

  test('POST /v1/tasks/bulk counts (dry run), then retries or cancels only what matches', async () => {
    const failing = await api<{ tasks: TaskLike[] }>(server.url, 'POST', '/v1/tasks/batch', {
      tasks: Array.from({ length: 3 }, () => ({
        kind: 'simulate',
        queue: 'bulk',
        timeout_ms: 50,
        max_attempts: 1,
      })),
    });
    const elsewhere = await api<TaskLike>(server.url, 'POST', '/v1/tasks', {
      kind: 'simulate',
      queue: 'bulk-other',
      timeout_ms: 50,
      max_attempts: 1,
    });
    const read = (id: string) => api<TaskLike>(server.url, 'GET', `/v1/tasks/${id}`);
    await waitFor('all of them to fail', async () =>
      (await Promise.all([...failing.tasks, elsewhere].map((t) => read(t.id)))).every(
        (t) => t.state === 'failed',
      ),
    );

    const dry = await post(server.url, '/v1/tasks/bulk', {
      action: 'retry',
      filter: { queue: 'bulk' },
      dry_run: true,
    });
    assert.deepEqual(dry, { status: 200, body: { action: 'retry', dry_run: true, count: 3 } });
    assert.equal((await read(failing.tasks[0]!.id)).state, 'failed', 'a dry run changes nothing');
    const limited = await post(server.url, '/v1/tasks/bulk', {
      action: 'retry',
      filter: { queue: 'bulk' },
      limit: 2,
      dry_run: true,
    });
    assert.equal(limited.body.count, 2);
    // A cancel of failed tasks: nothing it applies to.
    const none = await post(server.url, '/v1/tasks/bulk', {
      action: 'cancel',
      filter: { state: ['failed'] },
    });
    assert.equal(none.body.count, 0);

    const retried = await post(server.url, '/v1/tasks/bulk', {
      action: 'retry',
      filter: { queue: 'bulk', state: ['failed'] },
    });
    assert.deepEqual(retried.body, { action: 'retry', dry_run: false, count: 3 });
    await waitFor('each to run again', async () =>
      (await Promise.all(failing.tasks.map((t) => read(t.id)))).every((t) => t.attempt === 2),
    );
    assert.equal((await read(elsewhere.id)).attempt, 1, 'another queue is left alone');

    // Cancel: the unfinished tasks of a kind, queued and running alike.
    const long = await api<{ tasks: TaskLike[] }>(server.url, 'POST', '/v1/tasks/batch', {
      tasks: [
        { kind: 'simulate', queue: 'bulk-cancel' },
        { kind: 'simulate', queue: 'bulk-cancel', delay_ms: 600_000 },
      ],
    });
    await waitFor('the first to run', async () => (await read(long.tasks[0]!.id)).state === 'running');
    const cancelled = await post(server.url, '/v1/tasks/bulk', {
      action: 'cancel',
      filter: { queue: 'bulk-cancel' },
    });
    assert.equal(cancelled.body.count, 2);
    for (const t of long.tasks) assert.equal((await read(t.id)).state, 'cancelled');
    // The running one's handler was told to stop: its run is in the history as cancelled.
    const { attempts } = await api<{ attempts: { outcome: string }[] }>(
      server.url,
      'GET',
      `/v1/tasks/${long.tasks[0]!.id}/attempts`,
    );
    assert.deepEqual(
      attempts.map((a) => a.outcome),
      ['cancelled'],
    );

    for (const body of [
      {},
      { action: 'delete' },
      { action: 'retry', limit: 1001 },
      { action: 'retry', limit: 0 },
      { action: 'retry', filter: { state: ['lost'] } },
      { action: 'retry', filter: { colour: 'red' } },
      { action: 'retry', extra: true },
    ]) {
      const res = await post(server.url, '/v1/tasks/bulk', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 'invalid_request');
    }
  });

  test('GET /v1/stream tells of created and changed tasks as they happen', async () => {
    let created: TaskLike | undefined;
    const events = await readEvents(
      `${server.url}/v1/stream`,
      async () => {
        created = await api<TaskLike>(server.url, 'POST', '/v1/tasks', { kind: 'noop', queue: 'stream' });
      },
      (evs) =>
        evs.some((e) => e.startsWith('event: changed') && created !== undefined && e.includes(created.id)),
    );
    assert.ok(
      events.some((e) => e.startsWith('event: created')),
      events.join('\n'),
    );
    assert.ok(
      events.some((e) => e.startsWith('event: changed') && e.includes(created!.id)),
      events.join('\n'),
    );
  });
});

describe('operations endpoints need a token like every v1 endpoint', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  const token = 'operations-token-0123456789';

  before(async () => {
    db = await createTestDatabase();
    server = await startServer({ DATABASE_URL: db.url, API_TOKENS: token });
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  test('401 without it, 200 with it', async () => {
    const calls: [string, string, unknown?][] = [
      ['GET', '/v1/stats'],
      ['GET', '/v1/workers'],
      ['POST', '/v1/tasks/bulk', { action: 'retry', dry_run: true }],
      ['GET', '/v1/stream'],
    ];
    for (const [method, path, body] of calls) {
      const init = {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      };
      const refused = await fetch(`${server.url}${path}`, init);
      assert.equal(refused.status, 401, path);
      assert.equal(((await refused.json()) as { code: string }).code, 'unauthorized');
      const stop = new AbortController();
      const ok = await fetch(`${server.url}${path}`, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${token}` },
        signal: stop.signal,
      });
      assert.equal(ok.status, 200, path);
      stop.abort();
    }
  });
});
