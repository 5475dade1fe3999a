/**
 * External workers against a real taskd process over real HTTP: claims by kind (priority, max, paused and
 * limited queues), the long-poll woken by a create, the lease fencing every write (stale tokens after expiry and
 * re-claim, cancel), heartbeats extending the lease, expiry retried and then failed as worker_lost, bad input,
 * authentication; and the example workers (Python, bash) as real subprocesses.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

interface Lease {
  token: string;
  expires_at: string;
}
interface Task {
  id: string;
  kind: string;
  queue: string;
  state: string;
  attempt: number;
  result: unknown;
  error: { type: string; message: string } | null;
  progress: { percent: number | null; message: string | null } | null;
  lease?: Lease;
  [k: string]: unknown;
}
interface Answer<T> {
  status: number;
  body: T;
}

const KINDS = [
  'reverse',
  'sum',
  'sleep',
  'k_order',
  'k_max',
  'k_poll',
  'k_pause',
  'k_limit',
  'k_fence',
  'k_beat',
  'k_expire',
  'k_cancel',
  'k_fail',
  'k_engine',
];

const databases: TestDatabase[] = [];
const servers: ServerProcess[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const db of databases) await db.drop();
});

async function server(env: Record<string, string> = {}): Promise<ServerProcess> {
  const db = await createTestDatabase();
  databases.push(db);
  const s = await startServer({
    DATABASE_URL: db.url,
    EXTERNAL_KINDS: KINDS.join(','),
    RETRY_BACKOFF_BASE_MS: '1',
    RETRY_BACKOFF_MAX_MS: '1',
    ...env,
  });
  servers.push(s);
  return s;
}

async function call<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

describe('external workers (one real server process)', () => {
  let s: ServerProcess;
  let base: string;
  const post = <T>(path: string, body: unknown) => call<T>(base, 'POST', path, body);
  const create = async (kind: string, extra: Record<string, unknown> = {}) => {
    const res = await post<Task>('/v1/tasks', { kind, input: 'abc', ...extra });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  const claim = (body: Record<string, unknown>) =>
    post<{ tasks: Task[]; code?: string; details?: unknown }>('/v1/workers/claim', body);
  const getTask = async (id: string) => (await call<Task>(base, 'GET', `/v1/tasks/${id}`)).body;

  before(async () => {
    // A poll slower than any wait below: a claim that returns a task early was woken by the notification.
    s = await server({ POLL_INTERVAL_MS: '60000' });
    base = s.url;
  });

  test('external kinds are listed as external, creatable, and a typo stays unknown_kind', async () => {
    const { body } = await call<{ kinds: { name: string; source: string }[] }>(base, 'GET', '/v1/kinds');
    assert.deepEqual(
      body.kinds.filter((k) => k.source === 'external').map((k) => k.name),
      KINDS,
    );
    assert.equal(body.kinds.find((k) => k.name === 'noop')?.source, 'builtin');
    const typo = await post<{ code: string }>('/v1/tasks', { kind: 'reverze', input: 'x' });
    assert.equal(typo.status, 400);
    assert.equal(typo.body.code, 'unknown_kind');
  });

  test('the engine never claims an external kind', async () => {
    const external = await create('k_engine');
    // Claims are FIFO: once the engine has run a task created later, it has passed over the external one.
    const later = await post<Task>('/v1/tasks?wait=20', { kind: 'noop' });
    assert.equal(later.body.state, 'completed');
    const t = await getTask(external.id);
    assert.equal(t.state, 'queued');
    assert.equal(t.attempt, 0);
  });

  test('a claim hands out only the kinds it asks for, best priority first, at most max', async () => {
    const other = await create('k_max');
    const low = await create('k_order', { priority: 1 });
    const high = await create('k_order', { priority: 9 });
    const first = await claim({ kinds: ['k_order'], worker_id: 'w-order' });
    assert.equal(first.status, 200);
    assert.deepEqual(
      first.body.tasks.map((t) => t.id),
      [high.id],
    );
    const claimed = first.body.tasks[0]!;
    assert.equal(claimed.state, 'running');
    assert.equal(claimed.attempt, 1);
    assert.match(claimed.lease!.token, /^[0-9a-f-]{36}$/);
    assert.ok(Date.parse(claimed.lease!.expires_at) > Date.now() - 1000);
    const second = await claim({ kinds: ['k_order'], max: 5 });
    assert.deepEqual(
      second.body.tasks.map((t) => t.id),
      [low.id],
    );
    assert.equal((await getTask(other.id)).state, 'queued');

    await create('k_max');
    await create('k_max');
    const two = await claim({ kinds: ['k_max'], max: 2 });
    assert.equal(two.body.tasks.length, 2);
    const rest = await claim({ kinds: ['k_max'], max: 2 });
    assert.equal(rest.body.tasks.length, 1);
    assert.deepEqual((await claim({ kinds: ['k_max'] })).body.tasks, []);

    const { body } = await call<{ attempts: { worker_id: string; outcome: string }[] }>(
      base,
      'GET',
      `/v1/tasks/${high.id}/attempts`,
    );
    assert.deepEqual(body.attempts, [{ ...body.attempts[0], worker_id: 'w-order', outcome: 'running' }]);
  });

  test('a waiting claim is woken by a create and answers with the new task', async () => {
    const started = Date.now();
    const waiting = claim({ kinds: ['k_poll'], wait_ms: 30_000 });
    // The claim is waiting (its first look found nothing) once it has been answered nothing for a moment;
    // whether the create comes before or after that look, the claim must answer with the task.
    await sleep(200);
    const task = await create('k_poll');
    const { status, body } = await waiting;
    assert.equal(status, 200);
    assert.deepEqual(
      body.tasks.map((t) => t.id),
      [task.id],
    );
    // Far less than the wait, and the fallback poll is 60 s: a notification woke it.
    assert.ok(Date.now() - started < 20_000);
  });

  test('an empty answer after the wait', async () => {
    const { status, body } = await claim({ kinds: ['k_poll'], wait_ms: 300 });
    assert.equal(status, 200);
    assert.deepEqual(body.tasks, []);
  });

  test('paused queues and concurrency limits hold for external claims', async () => {
    await call(base, 'PATCH', '/v1/queues/ext-paused', { paused: true });
    const paused = await create('k_pause', { queue: 'ext-paused' });
    assert.deepEqual((await claim({ kinds: ['k_pause'] })).body.tasks, []);
    // Resuming notifies the claimers: a waiting claim takes the task.
    const waiting = claim({ kinds: ['k_pause'], wait_ms: 30_000 });
    await call(base, 'PATCH', '/v1/queues/ext-paused', { paused: false });
    assert.deepEqual(
      (await waiting).body.tasks.map((t) => t.id),
      [paused.id],
    );

    await call(base, 'PATCH', '/v1/queues/ext-limited', { concurrency: 1 });
    const a = await create('k_limit', { queue: 'ext-limited' });
    const b = await create('k_limit', { queue: 'ext-limited' });
    const first = await claim({ kinds: ['k_limit'], max: 5 });
    assert.deepEqual(
      first.body.tasks.map((t) => t.id),
      [a.id],
    );
    assert.deepEqual((await claim({ kinds: ['k_limit'], max: 5 })).body.tasks, []);
    const done = await post<Task>(`/v1/tasks/${a.id}/complete`, {
      token: first.body.tasks[0]!.lease!.token,
      result: 1,
    });
    assert.equal(done.status, 200);
    assert.deepEqual(
      (await claim({ kinds: ['k_limit'], max: 5 })).body.tasks.map((t) => t.id),
      [b.id],
    );
  });

  test('a stale token after the lease expired and the task was claimed again gets 409, and the later outcome stands', async () => {
    const task = await create('k_fence', { max_attempts: 3 });
    const first = (await claim({ kinds: ['k_fence'], lease_ms: 1000, worker_id: 'slow' })).body.tasks[0]!;
    // The first lease runs out; the reaper retries the task, and another worker claims it.
    const second = (await claim({ kinds: ['k_fence'], wait_ms: 30_000, worker_id: 'fast' })).body.tasks[0]!;
    assert.equal(second.id, task.id);
    assert.equal(second.attempt, 2);
    assert.notEqual(second.lease!.token, first.lease!.token);

    const stale = await post<{ code: string }>(`/v1/tasks/${task.id}/complete`, {
      token: first.lease!.token,
      result: 'stale',
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.code, 'lease_lost');
    for (const path of ['heartbeat', 'fail']) {
      const res = await post<{ code: string }>(`/v1/tasks/${task.id}/${path}`, {
        token: first.lease!.token,
        error: { message: 'stale' },
        ...(path === 'heartbeat' && { error: undefined }),
      });
      assert.equal(res.status, 409, path);
    }
    const fresh = await post<Task>(`/v1/tasks/${task.id}/complete`, {
      token: second.lease!.token,
      result: { by: 'fast' },
    });
    assert.equal(fresh.status, 200);
    assert.equal(fresh.body.state, 'completed');
    const late = await post<{ code: string }>(`/v1/tasks/${task.id}/complete`, {
      token: second.lease!.token,
      result: 'again',
    });
    assert.equal(late.status, 409);
    const final = await getTask(task.id);
    assert.deepEqual([final.state, final.result], ['completed', { by: 'fast' }]);
    const { body } = await call<{ attempts: { worker_id: string; outcome: string; error: unknown }[] }>(
      base,
      'GET',
      `/v1/tasks/${task.id}/attempts`,
    );
    assert.deepEqual(
      body.attempts.map((a) => [a.worker_id, a.outcome]),
      [
        ['slow', 'retried'],
        ['fast', 'completed'],
      ],
    );
  });

  test('heartbeats extend the lease past its first expiry and store the progress', async () => {
    const task = await create('k_beat');
    const claimed = (await claim({ kinds: ['k_beat'], lease_ms: 1000 })).body.tasks[0]!;
    let expiresAt = Date.parse(claimed.lease!.expires_at);
    // 0 % and null are values of their own, kept as sent.
    for (const progress of [
      { percent: 0, message: null },
      { percent: null, message: 'no percent' },
    ]) {
      const first = await post(`/v1/tasks/${task.id}/heartbeat`, { token: claimed.lease!.token, progress });
      assert.equal(first.status, 200);
      const t = await getTask(task.id);
      assert.deepEqual([t.progress?.percent, t.progress?.message], [progress.percent, progress.message]);
    }
    const until = Date.now() + 3000;
    let n = 0;
    while (Date.now() < until) {
      await sleep(250);
      const beat = await post<{ lease: Lease }>(`/v1/tasks/${task.id}/heartbeat`, {
        token: claimed.lease!.token,
        lease_ms: 1000,
        progress: { percent: ++n, message: `step ${n}` },
      });
      assert.equal(beat.status, 200, JSON.stringify(beat.body));
      assert.equal(beat.body.lease.token, claimed.lease!.token);
      assert.ok(Date.parse(beat.body.lease.expires_at) > expiresAt);
      expiresAt = Date.parse(beat.body.lease.expires_at);
    }
    const running = await getTask(task.id);
    assert.equal(running.state, 'running');
    assert.equal(running.attempt, 1);
    assert.deepEqual([running.progress?.percent, running.progress?.message], [n, `step ${n}`]);
    const done = await post<Task>(`/v1/tasks/${task.id}/complete`, {
      token: claimed.lease!.token,
      result: 'ok',
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.state, 'completed');
  });

  test('an expired lease is retried while attempts are left, then fails as worker_lost', async () => {
    const task = await create('k_expire', { max_attempts: 2 });
    const first = await claim({ kinds: ['k_expire'], lease_ms: 1000, worker_id: 'gone-1' });
    assert.equal(first.body.tasks.length, 1);
    const second = await claim({ kinds: ['k_expire'], lease_ms: 1000, wait_ms: 30_000, worker_id: 'gone-2' });
    assert.equal(second.body.tasks[0]?.attempt, 2);
    const failed = await waitFor(
      'the task failed',
      async () => {
        const t = await getTask(task.id);
        return t.state === 'failed' && t;
      },
      { timeoutMs: 20_000 },
    );
    assert.equal(failed.error?.type, 'worker_lost');
    await s.waitForEvent('task.finished', (l) => l.task_id === task.id && l.by === 'reaper');
    const { body } = await call<{ attempts: { worker_id: string; outcome: string }[] }>(
      base,
      'GET',
      `/v1/tasks/${task.id}/attempts`,
    );
    assert.deepEqual(
      body.attempts.map((a) => [a.worker_id, a.outcome]),
      [
        ['gone-1', 'retried'],
        ['gone-2', 'failed'],
      ],
    );
  });

  test('a cancelled task answers the next heartbeat with 409 lease_lost', async () => {
    const task = await create('k_cancel');
    const claimed = (await claim({ kinds: ['k_cancel'] })).body.tasks[0]!;
    const cancel = await post<Task>(`/v1/tasks/${task.id}/cancel`, {});
    assert.equal(cancel.body.state, 'cancelled');
    const beat = await post<{ code: string }>(`/v1/tasks/${task.id}/heartbeat`, {
      token: claimed.lease!.token,
    });
    assert.equal(beat.status, 409);
    assert.equal(beat.body.code, 'lease_lost');
    const done = await post<{ code: string }>(`/v1/tasks/${task.id}/complete`, {
      token: claimed.lease!.token,
      result: 'late',
    });
    assert.equal(done.status, 409);
    const t = await getTask(task.id);
    assert.deepEqual([t.state, t.result], ['cancelled', null]);
  });

  test('fail retries per the retry policy, and fails for good without retry', async () => {
    const task = await create('k_fail', { max_attempts: 3 });
    const first = (await claim({ kinds: ['k_fail'] })).body.tasks[0]!;
    const retried = await post<Task>(`/v1/tasks/${task.id}/fail`, {
      token: first.lease!.token,
      error: { message: 'try again' },
    });
    assert.equal(retried.status, 200);
    assert.ok(['scheduled', 'queued'].includes(retried.body.state), retried.body.state);
    const second = (await claim({ kinds: ['k_fail'], wait_ms: 30_000 })).body.tasks[0]!;
    assert.equal(second.attempt, 2);
    const failed = await post<Task>(`/v1/tasks/${task.id}/fail`, {
      token: second.lease!.token,
      error: { message: 'give up' },
      retry: false,
    });
    assert.equal(failed.status, 200);
    assert.equal(failed.body.state, 'failed');
    assert.deepEqual(failed.body.error, { type: 'error', message: 'give up' });
  });

  test('bad input gets 400 (never a 5xx) and changes nothing', async () => {
    const task = await create('k_fail');
    const bad: [string, unknown][] = [
      ['/v1/workers/claim', { kinds: ['noop'] }],
      ['/v1/workers/claim', { kinds: ['reverse', 'simulate'] }],
      ['/v1/workers/claim', { kinds: [] }],
      ['/v1/workers/claim', { kinds: ['reverse'], max: 0 }],
      ['/v1/workers/claim', { kinds: ['reverse'], max: 101 }],
      ['/v1/workers/claim', { kinds: ['reverse'], wait_ms: 60_001 }],
      ['/v1/workers/claim', { kinds: ['reverse'], lease_ms: 10 }],
      ['/v1/workers/claim', { kinds: ['reverse'], extra: 1 }],
      [`/v1/tasks/${task.id}/heartbeat`, { token: 'not-a-uuid' }],
      [`/v1/tasks/${task.id}/heartbeat`, { token: task.id, progress: { percent: 101 } }],
      [`/v1/tasks/${task.id}/complete`, {}],
      [`/v1/tasks/${task.id}/fail`, { token: task.id }],
      [`/v1/tasks/${task.id}/fail`, { token: task.id, error: { message: 'x' }, retry: 'yes' }],
      ['/v1/tasks/not-an-id/complete', { token: task.id }],
    ];
    for (const [path, body] of bad) {
      const res = await post<{ code: string; error: string }>(path, body);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, 'invalid_request');
    }
    const noop = await post<{ details: { message: string }[] }>('/v1/workers/claim', { kinds: ['noop'] });
    assert.match(noop.body.details[0]!.message, /"noop" is not an external kind/);
    const unknown = await post<{ code: string }>(`/v1/tasks/00000000-0000-4000-8000-000000000000/complete`, {
      token: task.id,
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'task_not_found');
    const t = await getTask(task.id);
    assert.deepEqual([t.state, t.attempt], ['queued', 0]);
  });
});

test('with API_TOKENS, the worker endpoints need a token', async () => {
  const token = 'a-long-enough-worker-token';
  const s = await server({ API_TOKENS: token });
  const claim = { kinds: ['reverse'] };
  const without = await call<{ code: string }>(s.url, 'POST', '/v1/workers/claim', claim);
  assert.equal(without.status, 401);
  assert.equal(without.body.code, 'unauthorized');
  const auth = { authorization: `Bearer ${token}` };
  const created = await call<Task>(s.url, 'POST', '/v1/tasks', { kind: 'reverse', input: 'x' }, auth);
  const claimed = await call<{ tasks: Task[] }>(s.url, 'POST', '/v1/workers/claim', claim, auth);
  assert.equal(claimed.status, 200);
  assert.equal(claimed.body.tasks[0]?.id, created.body.id);
  const body = { token: claimed.body.tasks[0].lease!.token, result: 'x' };
  const path = `/v1/tasks/${created.body.id}/complete`;
  assert.equal((await call(s.url, 'POST', path, body)).status, 401);
  assert.equal((await call(s.url, 'POST', path, body, auth)).status, 200);
});

// ---- the example workers ----

class Worker {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(command: string, script: string, env: Record<string, string>) {
    this.child = spawn(command, [script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onLine = (line: string) => {
      this.lines.push(line);
      for (const w of [...this.waiters]) w();
    };
    createInterface({ input: this.child.stdout! }).on('line', onLine);
    createInterface({ input: this.child.stderr! }).on('line', (l) => onLine(`stderr: ${l}`));
  }

  /** Resolves once the worker printed a line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.find((l) => pattern.test(l));
        if (!line) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(line);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no line matching ${pattern}; the worker printed:\n${this.lines.join('\n')}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'close');
    this.child.kill('SIGKILL');
    await exited;
  }
}

for (const [name, command, script] of [
  ['Python', 'python3', 'examples/workers/worker.py'],
  ['bash', 'bash', 'examples/workers/worker.sh'],
] as const) {
  test(`the ${name} example worker completes tasks, fails one, and drops a cancelled one`, async () => {
    const s = await server();
    const worker = new Worker(command, script, {
      TASKD_URL: s.url,
      TASKD_KINDS: 'reverse,sum,sleep',
      TASKD_WAIT_MS: '5000',
      TASKD_HEARTBEAT_MS: '200',
      TASKD_WORKER_ID: `example-${name}`,
    });
    try {
      const post = (body: unknown) => call<Task>(s.url, 'POST', '/v1/tasks', body);
      const reverse = (await post({ kind: 'reverse', input: 'hello' })).body;
      const sum = (await post({ kind: 'sum', input: { numbers: [1, 2, 3.5] } })).body;
      const failing = (await post({ kind: 'reverse', input: { fail: 'no such thing' } })).body;
      const ended = async (id: string) =>
        waitFor(
          `task ${id} ended`,
          async () => {
            const t = (await call<Task>(s.url, 'GET', `/v1/tasks/${id}?wait=5`)).body;
            return ['completed', 'failed', 'cancelled'].includes(t.state) && t;
          },
          { timeoutMs: 30_000 },
        );
      const r = await ended(reverse.id);
      assert.deepEqual([r.state, r.result], ['completed', 'olleh']);
      const n = await ended(sum.id);
      assert.deepEqual([n.state, n.result], ['completed', 6.5]);
      const f = await ended(failing.id);
      assert.deepEqual([f.state, f.error], ['failed', { type: 'error', message: 'no such thing' }]);
      const { body } = await call<{ attempts: { worker_id: string }[] }>(
        s.url,
        'GET',
        `/v1/tasks/${reverse.id}/attempts`,
      );
      assert.equal(body.attempts[0]?.worker_id, `example-${name}`);

      // A long task: the worker heartbeats; cancelled meanwhile, its next heartbeat is refused and it drops it.
      const long = (await post({ kind: 'sleep', input: { sleep_ms: 60_000 } })).body;
      await worker.waitForLine(new RegExp(`claimed ${long.id}`));
      await waitFor('progress from the worker', async () => {
        const t = (await call<Task>(s.url, 'GET', `/v1/tasks/${long.id}`)).body;
        return t.progress?.message === 'sleeping';
      });
      const cancelled = await call<Task>(s.url, 'POST', `/v1/tasks/${long.id}/cancel`, {});
      assert.equal(cancelled.body.state, 'cancelled');
      await worker.waitForLine(new RegExp(`lease lost, dropping ${long.id}`));
      // The worker goes on with the next task.
      const next = (await post({ kind: 'reverse', input: 'ab' })).body;
      assert.deepEqual((await ended(next.id)).result, 'ba');
      assert.equal((await call<Task>(s.url, 'GET', `/v1/tasks/${long.id}`)).body.state, 'cancelled');
    } finally {
      await worker.stop();
    }
  });
}
