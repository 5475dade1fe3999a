import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { StatementCounter } from '../helpers/statement-counter.js';
import { waitFor } from '../helpers/wait.js';

interface Task {
  id: string;
  state: string;
  attempt: number;
  error: { type: string; message: string } | null;
  finished_at: string | null;
  [k: string]: unknown;
}

async function call(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Task };
}

/** Reads a Server-Sent Events stream to its end: the tasks of its `event: task` messages, in order. */
async function readEvents(res: Response, onTask: (t: Task) => void = () => {}): Promise<Task[]> {
  const tasks: Task[] = [];
  let text = '';
  for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    let end: number;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const message = text.slice(0, end);
      text = text.slice(end + 2);
      const lines = message.split('\n');
      if (!lines.includes('event: task')) continue;
      const data = lines.find((l) => l.startsWith('data: '))!.slice(6);
      const task = JSON.parse(data) as Task;
      tasks.push(task);
      onTask(task);
    }
  }
  return tasks;
}

describe('waiting for tasks: long-polls and event streams served by an API-only process', () => {
  let db: TestDatabase;
  let counter: StatementCounter;
  /** WORKER_CONCURRENCY=0, its database connections counted. */
  let api: ServerProcess;
  /** Runs the tasks. */
  let worker: ServerProcess;

  before(async () => {
    db = await createTestDatabase();
    counter = await StatementCounter.start(db.url);
    worker = await startServer({ DATABASE_URL: db.url, SIMULATE_MIN_MS: '300', SIMULATE_MAX_MS: '400' });
    api = await startServer({ DATABASE_URL: counter.via(db.url), WORKER_CONCURRENCY: '0' });
  });
  after(async () => {
    await api?.close();
    await worker?.close();
    await counter?.close();
    await db?.drop();
  });

  let queueSeq = 0;
  /** A task in a queue of its own, paused: it stays queued until the queue is resumed. */
  async function heldTask(): Promise<{ id: string; resume: () => Promise<void> }> {
    const queue = `held-${++queueSeq}`;
    assert.equal((await call(api.url, 'PATCH', `/v1/queues/${queue}`, { paused: true })).status, 200);
    const created = await call(api.url, 'POST', '/v1/tasks', { kind: 'simulate', input: 'x', queue });
    assert.equal(created.status, 201);
    assert.equal(created.body.state, 'queued');
    return {
      id: created.body.id,
      resume: async () => {
        assert.equal((await call(api.url, 'PATCH', `/v1/queues/${queue}`, { paused: false })).status, 200);
      },
    };
  }

  /** The process's `taskd_waiters` gauge: its long-polls and event streams waiting right now. */
  async function waitersGauge(base: string): Promise<number> {
    const text = await (await fetch(`${base}/metrics`)).text();
    return Number(/^taskd_waiters (\d+)$/m.exec(text)?.[1] ?? 'NaN');
  }

  test('200 long-polls of one process are woken by the completion, with reads per batch and notification, not per waiter', async () => {
    const { id, resume } = await heldTask();
    const reads = () => counter.count('taskGetRecords');
    const before = reads();
    const waits = Array.from({ length: 200 }, () => call(api.url, 'GET', `/v1/tasks/${id}?wait=30`));
    // Each waiter reads its task once after it started waiting, together with the others arriving meanwhile.
    await waitFor('every waiter to be waiting', async () => (await waitersGauge(api.url)) === 200);
    await resume();
    const answers = await Promise.all(waits);
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(a.body.state, 'completed');
      assert.ok(a.body.finished_at, 'answered with the finished task');
    }
    // The first reads in a few statements; the claim and the completion: one notification each, one read each
    // for all 200 waiters.
    assert.ok(reads() - before <= 100, `${reads() - before} reads for 200 waiters`);
    assert.equal(await waitersGauge(api.url), 0);
  });

  test('long-polls of many tasks at once each answer with their own task; an unknown id answers 404', async () => {
    const tasks = await Promise.all(Array.from({ length: 30 }, () => heldTask()));
    const unknown = '00000000-0000-4000-8000-000000000000';
    const waits = tasks.map((t) => call(api.url, 'GET', `/v1/tasks/${t.id}?wait=30`));
    const missing = call(api.url, 'GET', `/v1/tasks/${unknown}?wait=30`);
    await waitFor('every waiter to be waiting', async () => (await waitersGauge(api.url)) === 30);
    assert.equal((await missing).status, 404);
    await Promise.all(tasks.map((t) => t.resume()));
    const answers = await Promise.all(waits);
    answers.forEach((a, i) => {
      assert.equal(a.status, 200);
      assert.equal(a.body.id, tasks[i]!.id);
      assert.equal(a.body.state, 'completed');
    });
  });

  test('wait=0 answers at once; a wait that runs out answers the task as it is', async () => {
    const { id } = await heldTask();
    const now = await call(api.url, 'GET', `/v1/tasks/${id}?wait=0`);
    assert.equal(now.status, 200);
    assert.equal(now.body.state, 'queued');

    const reads = counter.count('taskGetRecords');
    const started = Date.now();
    const late = await call(api.url, 'GET', `/v1/tasks/${id}?wait=1`);
    assert.equal(late.status, 200);
    assert.equal(late.body.state, 'queued');
    assert.equal(counter.count('taskGetRecords') - reads, 1, 'read once, then waited');
    assert.ok(Date.now() - started >= 950, 'it waited for the time asked before answering');

    const heldQueue = `held-${queueSeq}`;
    const createdAt = Date.now();
    const created = await call(api.url, 'POST', '/v1/tasks?wait=1', { kind: 'simulate', queue: heldQueue });
    assert.equal(created.status, 201);
    assert.equal(created.body.state, 'queued');
    assert.ok(Date.now() - createdAt >= 950, 'the create waited too');

    const unknown = await call(api.url, 'GET', `/v1/tasks/00000000-0000-4000-8000-000000000000?wait=1`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error === undefined, false);
  });

  test('POST ?wait= answers with the finished task once it has run', async () => {
    const created = await call(api.url, 'POST', '/v1/tasks?wait=30', { kind: 'simulate', input: 'y' });
    assert.equal(created.status, 201);
    assert.equal(created.body.state, 'completed');
    assert.ok(created.body.finished_at);
  });

  test('the event stream sends the task at once and after each change, queued → running → completed, then ends', async () => {
    const { id, resume } = await heldTask();
    const res = await fetch(`${api.url}/v1/tasks/${id}/events`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    let first: () => void = () => {};
    const firstSeen = new Promise<void>((resolve) => (first = resolve));
    const stream = readEvents(res, () => first());
    await firstSeen;
    await resume();
    const states = (await stream).map((t) => t.state);
    assert.deepEqual(states, ['queued', 'running', 'completed']);

    const missing = await fetch(`${api.url}/v1/tasks/00000000-0000-4000-8000-000000000000/events`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'task_not_found');
  });

  test('on SIGTERM, waits answer with the task as it is and event streams end, before the process exits', async () => {
    const { id } = await heldTask();
    const wait = call(api.url, 'GET', `/v1/tasks/${id}?wait=60`);
    const res = await fetch(`${api.url}/v1/tasks/${id}/events`);
    const stream = readEvents(res);
    // Their first reads may share one statement: the gauge says when both wait.
    await waitFor('both to be waiting', async () => (await waitersGauge(api.url)) === 2);
    api.kill('SIGTERM');
    const answer = await wait;
    assert.equal(answer.status, 200);
    assert.equal(answer.body.state, 'queued');
    assert.deepEqual(
      (await stream).map((t) => t.state),
      ['queued'],
    );
    assert.equal((await api.exited).code, 0);
  });
});

describe('cancel reaches the runner in another process', () => {
  let db: TestDatabase;
  let runner: ServerProcess;
  let other: ServerProcess;

  before(async () => {
    db = await createTestDatabase();
    runner = await startServer({
      DATABASE_URL: db.url,
      LOG_LEVEL: 'debug',
      SIMULATE_MIN_MS: '600000',
      SIMULATE_MAX_MS: '600000',
    });
    other = await startServer({ DATABASE_URL: db.url, WORKER_CONCURRENCY: '0' });
  });
  after(async () => {
    await other?.close();
    await runner?.close();
    await db?.drop();
  });

  test('a running task cancelled through another instance: its handler is aborted, the late result discarded', async () => {
    const created = await call(other.url, 'POST', '/v1/tasks', { kind: 'simulate', input: 'long' });
    const { id } = created.body;
    await runner.waitForEvent('task.started', (l) => l.task_id === id);
    const aborted = runner.waitForEvent('task.outcome_discarded', (l) => l.task_id === id, 1000);
    const cancelled = await call(other.url, 'POST', `/v1/tasks/${id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    // The handler saw its signal: its run ended and nothing it would have returned is written.
    assert.equal((await aborted).reason, 'aborted');
    const task = await call(other.url, 'GET', `/v1/tasks/${id}`);
    assert.equal(task.body.state, 'cancelled');
    assert.equal(task.body.error?.type, 'cancelled');
    const attempts = (await (await fetch(`${other.url}/v1/tasks/${id}/attempts`)).json()) as {
      attempts: { outcome: string }[];
    };
    assert.deepEqual(
      attempts.attempts.map((a) => a.outcome),
      ['cancelled'],
    );
  });
});
