import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const databases: TestDatabase[] = [];
const servers: ServerProcess[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const db of databases) await db.drop();
});

async function setup(env: Record<string, string> = {}, instances = 1) {
  const db = await createTestDatabase();
  databases.push(db);
  const started: ServerProcess[] = [];
  for (let i = 0; i < instances; i++) {
    const s = await startServer({ DATABASE_URL: db.url, ...env });
    servers.push(s);
    started.push(s);
  }
  return { db, servers: started };
}

async function call(base: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined && {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The ticks that created tasks for `name`, in order, with how many tasks each has. */
async function ticksOf(db: TestDatabase, name: string): Promise<{ tick: string; n: number }[]> {
  const { rows } = await db.pool.query<{ tick: string; n: number }>(
    `SELECT split_part(idempotency_key, ':', 3) || ':' || split_part(idempotency_key, ':', 4) || ':' ||
            split_part(idempotency_key, ':', 5) AS tick, count(*)::int AS n
     FROM taskd.tasks WHERE idempotency_key LIKE $1 GROUP BY 1 ORDER BY 1`,
    [`schedule:${name}:%`],
  );
  return rows;
}

/** Whether `ticks` are consecutive seconds. */
function consecutiveSeconds(ticks: string[]): boolean {
  return ticks.every((t, i) => i === 0 || Date.parse(t) - Date.parse(ticks[i - 1]!) === 1000);
}

test('two instances on one database: a schedule every second creates exactly one task per tick', async () => {
  const { db, servers } = await setup({}, 2);
  const [a, b] = servers as [ServerProcess, ServerProcess];
  const put = await call(a.url, 'PUT', '/v1/schedules/every-second', {
    cron: '* * * * * *',
    task: { kind: 'noop', input: { from: 'schedule' } },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal((put.body.next_runs as string[]).length, 5);

  // Both instances wake for every tick; over several ticks the database lets one of them through each time.
  const ticks = await waitFor('five ticks', async () => {
    const t = await ticksOf(db, 'every-second');
    return t.length >= 5 && t;
  });
  assert.deepEqual(
    ticks.filter((t) => t.n !== 1),
    [],
    'a tick created more than one task',
  );
  assert.ok(consecutiveSeconds(ticks.map((t) => t.tick)), `ticks skipped: ${JSON.stringify(ticks)}`);

  // Each task says which schedule and tick it belongs to, and it runs like any other.
  const listed = await call(b.url, 'GET', '/v1/schedules');
  const [schedule] = listed.body.schedules as Record<string, unknown>[];
  assert.equal(schedule!.name, 'every-second');
  const last = await call(b.url, 'GET', `/v1/tasks/${String(schedule!.last_task_id)}?wait=10`);
  assert.equal(last.body.state, 'completed');
  assert.match(String(last.body.idempotency_key), /^schedule:every-second:\d{4}-\d\d-\d\dT/);
  assert.deepEqual(last.body.input, { from: 'schedule' });
});

test('a paused schedule creates no tasks while others keep ticking; resuming starts it again', async () => {
  const { db, servers } = await setup();
  const s = servers[0]!;
  const task = { kind: 'noop' };
  await call(s.url, 'PUT', '/v1/schedules/paused-one', { cron: '* * * * * *', task });
  await waitFor('a first tick', async () => (await ticksOf(db, 'paused-one')).length >= 1);
  const paused = await call(s.url, 'PUT', '/v1/schedules/paused-one', {
    cron: '* * * * * *',
    task,
    paused: true,
  });
  assert.equal(paused.status, 200);
  assert.deepEqual([paused.body.paused, paused.body.next_run_at, paused.body.next_runs], [true, null, []]);
  const before = (await ticksOf(db, 'paused-one')).length;

  // The witness ticks every second: once it has ticked three times, the paused one would have too.
  await call(s.url, 'PUT', '/v1/schedules/witness', { cron: '* * * * * *', task });
  await waitFor('the witness to tick three times', async () => (await ticksOf(db, 'witness')).length >= 3);
  assert.equal((await ticksOf(db, 'paused-one')).length, before, 'a paused schedule ticked');

  const resumed = await call(s.url, 'PUT', '/v1/schedules/paused-one', { cron: '* * * * * *', task });
  assert.equal(resumed.body.paused, false);
  await waitFor('ticks again', async () => (await ticksOf(db, 'paused-one')).length > before);
});

test('ticks missed while everything was down: the latest runs once, older ones are skipped; a short gap catches up', async () => {
  const { db, servers } = await setup({ SCHEDULE_MISFIRE_GRACE_MS: '60000' });
  let s = servers[0]!;
  await call(s.url, 'PUT', '/v1/schedules/minutely', { cron: '* * * * *', task: { kind: 'noop' } });
  await call(s.url, 'PUT', '/v1/schedules/secondly', { cron: '* * * * * *', task: { kind: 'noop' } });
  s.kill('SIGTERM');
  assert.equal((await s.exited).code, 0);

  // While nothing ran: the minutely schedule's next tick was due an hour ago, the secondly one's 4 s ago (within the grace of 60 s, however long the start takes).
  await db.pool.query(
    `UPDATE taskd.schedules SET next_run_at = date_trunc('minute', now()) - interval '1 hour'
     WHERE name = 'minutely'`,
  );
  const { rows } = await db.pool.query<{ due: string }>(
    `UPDATE taskd.schedules SET next_run_at = date_trunc('second', now()) - interval '4 seconds'
     WHERE name = 'secondly' RETURNING to_char(next_run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS due`,
  );
  await db.pool.query('DELETE FROM taskd.tasks');
  const restartedAt = new Date();

  s = await startServer({ DATABASE_URL: db.url, SCHEDULE_MISFIRE_GRACE_MS: '60000' });
  servers.push(s);
  const missed = await s.waitForEvent('schedule.missed', (l) => l.schedule === 'minutely');
  const fired = await s.waitForEvent('schedule.fired', (l) => l.schedule === 'minutely');
  // One task, for the latest minute that had come when the instance ran the schedule (not the hour-old one):
  // none for any minute before it.
  const minuteOf = (d: Date) => Math.floor(d.getTime() / 60_000) * 60_000;
  const tick = String(fired.tick);
  assert.equal(Date.parse(tick) % 60_000, 0);
  assert.ok(Date.parse(tick) >= minuteOf(restartedAt) && Date.parse(tick) <= Date.now(), tick);
  const minutely = await ticksOf(db, 'minutely');
  assert.deepEqual(
    minutely.filter((t) => Date.parse(t.tick) <= Date.parse(tick)),
    [{ tick, n: 1 }],
  );
  assert.ok(Date.parse(String(missed.skipped_from)) < minuteOf(restartedAt) - 50 * 60_000);
  assert.equal(missed.runs, tick);
  const schedule = await call(s.url, 'GET', '/v1/schedules/minutely');
  assert.ok(Date.parse(String(schedule.body.next_run_at)) > restartedAt.getTime() - 1000);

  // Within the grace every missed second runs, each once, from the first one due.
  const secondly = await waitFor('the secondly schedule to catch up', async () => {
    const t = await ticksOf(db, 'secondly');
    return t.length >= 6 && t;
  });
  assert.equal(secondly[0]!.tick, `${rows[0]!.due}.000Z`);
  assert.ok(consecutiveSeconds(secondly.map((t) => t.tick)));
  assert.deepEqual(
    secondly.filter((t) => t.n !== 1),
    [],
  );
});

test('bad schedules get 400 with details, never a 5xx, and change nothing; unknown names get 404', async () => {
  const { db, servers } = await setup();
  const s = servers[0]!;
  const good = { cron: '*/5 * * * *', timezone: 'Europe/Berlin', task: { kind: 'noop' } };
  const cases: [string, unknown, string, string][] = [
    ['bad-cron', { ...good, cron: 'every day' }, 'invalid_request', '/body/cron'],
    ['bad-cron', { ...good, cron: '99 * * * *' }, 'invalid_request', '/body/cron'],
    ['bad-cron', { ...good, cron: '0 0 30 2 *' }, 'invalid_request', '/body/cron'],
    ['bad-tz', { ...good, timezone: 'Mars/Olympus_Mons' }, 'invalid_request', '/body/timezone'],
    ['bad-kind', { ...good, task: { kind: 'no-such-kind' } }, 'unknown_kind', ''],
    [
      'bad-task',
      { ...good, task: { kind: 'noop', priority: 'high' } },
      'invalid_request',
      '/body/task/priority',
    ],
    [
      'bad-task',
      { ...good, task: { kind: 'noop', run_at: '2030-01-01T00:00:00Z' } },
      'invalid_request',
      '/body/task/run_at',
    ],
    [
      'bad-task',
      { ...good, task: { kind: 'noop', idempotency_key: 'k' } },
      'invalid_request',
      '/body/task/idempotency_key',
    ],
    [
      'bad-task',
      { ...good, task: { kind: 'noop', input: 'a\u0000b' } },
      'invalid_request',
      '/body/task/input',
    ],
    ['no-task', { cron: good.cron }, 'invalid_request', '/body'],
    ['extra', { ...good, every: 'day' }, 'invalid_request', '/body/every'],
    ['bad:name', good, 'invalid_request', '/params/name'],
    // Longer than the router takes a path parameter: refused before the route, without details.
    ['x'.repeat(101), good, 'invalid_request', ''],
  ];
  for (const [name, body, code, path] of cases) {
    const res = await call(s.url, 'PUT', `/v1/schedules/${encodeURIComponent(name)}`, body);
    const what = `${name} ${JSON.stringify(body)} → ${res.status} ${JSON.stringify(res.body)}`;
    assert.equal(res.status, 400, what);
    assert.equal(res.body.code, code, what);
    if (path) {
      assert.ok(Array.isArray(res.body.details), what);
      const paths = (res.body.details as { path: string }[]).map((d) => d.path);
      assert.ok(
        paths.some((p) => p.startsWith(path)),
        what,
      );
    }
  }
  const malformed = await fetch(`${s.url}/v1/schedules/x`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{"cron": ',
  });
  assert.equal(malformed.status, 400);
  const { rows } = await db.pool.query('SELECT name FROM taskd.schedules');
  assert.deepEqual(rows, []);

  for (const method of ['GET', 'DELETE']) {
    const res = await call(s.url, method, '/v1/schedules/nothing-here');
    assert.deepEqual([res.status, res.body.code], [404, 'schedule_not_found']);
  }
  const put = await call(s.url, 'PUT', '/v1/schedules/ok', good);
  assert.equal(put.status, 200);
  const del = await call(s.url, 'DELETE', '/v1/schedules/ok');
  assert.deepEqual([del.status, del.body.name], [200, 'ok']);
  assert.equal((await call(s.url, 'GET', '/v1/schedules/ok')).status, 404);
});
