import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { parseExposition, promtoolFindings, valueOf } from '../helpers/prometheus.js';
import { startServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN = 'metrics-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };

const databases: TestDatabase[] = [];
after(async () => {
  for (const db of databases) await db.drop();
});

async function createV1(base: string, body: unknown): Promise<{ id: string }> {
  const res = await fetch(`${base}/v1/tasks`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201);
  return (await res.json()) as { id: string };
}

async function scrape(base: string, headers: Record<string, string> = auth) {
  const res = await fetch(`${base}/metrics`, { headers });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  return { text, samples: parseExposition(text) };
}

test('GET /metrics on a real process: valid for promtool, and its series move as tasks are created and drained', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const s = await startServer({
    DATABASE_URL: db.url,
    API_TOKENS: TOKEN,
    METRICS_SAMPLE_INTERVAL_MS: '200',
  });
  try {
    // With API_TOKENS set, /metrics needs the token like any other endpoint.
    assert.equal((await fetch(`${s.url}/metrics`)).status, 401);

    const before = await scrape(s.url);
    assert.equal(valueOf(before.samples, 'taskd_tasks_created_total', { queue: 'mq' }), 0);

    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await createV1(s.url, { kind: 'noop', queue: 'mq' })).id);
    // A run that times out, and fails for good.
    ids.push((await createV1(s.url, { kind: 'simulate', queue: 'mq', timeout_ms: 5, max_attempts: 1 })).id);
    // One that waits: it shows in the sampled backlog. Another is cancelled by its client.
    await createV1(s.url, { kind: 'noop', queue: 'later', delay_ms: 3_600_000 });
    const doomed = await createV1(s.url, { kind: 'noop', queue: 'cancelling', delay_ms: 3_600_000 });
    const cancel = await fetch(`${s.url}/v1/tasks/${doomed.id}/cancel`, { method: 'POST', headers: auth });
    assert.equal(cancel.status, 200);
    for (const id of ids) {
      const res = await fetch(`${s.url}/v1/tasks/${id}?wait=30`, { headers: auth });
      const task = (await res.json()) as { state: string };
      assert.ok(['completed', 'failed'].includes(task.state), task.state);
    }

    const { text, samples } = await waitFor('the backlog sample to show the scheduled task', async () => {
      const got = await scrape(s.url);
      return valueOf(got.samples, 'taskd_queue_tasks', { queue: 'later', state: 'scheduled' }) === 1 && got;
    });

    const { status, findings } = promtoolFindings(text);
    assert.deepEqual(findings, [], `promtool check metrics found problems:\n${findings.join('\n')}`);
    assert.ok(status === 0 || status === 3, `promtool exited ${status}`);

    const v = (name: string, labels: Record<string, string> = {}) => valueOf(samples, name, labels);
    assert.equal(v('taskd_tasks_created_total', { kind: 'noop', queue: 'mq', api: 'v1' }), 4);
    assert.equal(v('taskd_tasks_created_total', { kind: 'simulate', queue: 'mq', api: 'v1' }), 1);
    assert.equal(v('taskd_tasks_finished_total', { kind: 'noop', queue: 'mq', outcome: 'completed' }), 4);
    assert.equal(
      v('taskd_tasks_finished_total', { kind: 'simulate', outcome: 'failed', failure: 'timeout' }),
      1,
    );
    assert.equal(
      v('taskd_tasks_finished_total', { queue: 'cancelling', outcome: 'cancelled', failure: 'cancelled' }),
      1,
    );
    assert.equal(v('taskd_task_run_duration_seconds_count', { kind: 'noop', outcome: 'completed' }), 4);
    assert.equal(v('taskd_task_pickup_latency_seconds_count', { queue: 'mq' }), 5);
    assert.equal(v('taskd_queue_tasks', { queue: 'mq', state: 'queued' }), 0);
    assert.equal(v('taskd_workers_live'), 1);
    assert.ok(v('taskd_db_pool_connections') >= 1);
    assert.ok(v('taskd_db_health_samples_total') >= 1);
    assert.ok(v('taskd_db_max_connections') > 0);
    assert.ok(v('taskd_db_table_size_bytes', { table: 'taskd.tasks' }) > 0);
    assert.ok(v('process_cpu_user_seconds_total') > 0, 'default process metrics are exposed');

    // HTTP durations under the route's template, never the raw URL with its id.
    assert.ok(
      v('taskd_http_request_duration_seconds_count', {
        route: '/v1/tasks/:id',
        method: 'GET',
        status_class: '2xx',
      }) >= 5,
    );
    assert.ok(
      v('taskd_http_request_duration_seconds_count', { route: '/metrics', status_class: '4xx' }) >= 1,
    );
    assert.ok(!text.includes(ids[0]!), 'no task id appears in any label');
  } finally {
    await s.close();
  }
});

test('METRICS_PUBLIC=true: /metrics needs no token while the rest of the API still does', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const s = await startServer({
    DATABASE_URL: db.url,
    API_TOKENS: TOKEN,
    METRICS_PUBLIC: 'true',
    WORKER_CONCURRENCY: '0',
  });
  try {
    const { samples } = await scrape(s.url, {});
    assert.ok(samples.some((x) => x.name === 'taskd_db_pool_connections'));
    assert.equal((await fetch(`${s.url}/v1/queues`)).status, 401);
    assert.equal((await fetch(`${s.url}/v1/health`)).status, 401);
  } finally {
    await s.close();
  }
});
