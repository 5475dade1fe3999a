import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/ports.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

const CLI = path.resolve('dist/cli/taskd.js');

let db: TestDatabase;
let server: ServerProcess;
before(async () => {
  db = await createTestDatabase();
  server = await startServer({ DATABASE_URL: db.url });
});
after(async () => {
  await server?.close();
  await db?.drop();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a script would: a process of its own, against the test's server unless TASKD_URL says. */
function taskd(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, TASKD_URL: server.url, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function json<T = Record<string, unknown>>(args: string[]): Promise<T> {
  const run = await taskd([...args, '--json']);
  assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

test('create --wait exits 0 with the result; --json prints the task as JSON', async () => {
  const human = await taskd(['create', 'simulate', '--input', '{"ms": 50, "steps": 2}', '--wait']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^state +completed$/m);
  assert.match(human.stdout, /^result +processed task/m);
  // Not a terminal: the progress comes as lines on stderr, ending with the task's end.
  assert.match(human.stderr, / completed/);

  const task = await json<{ id: string; state: string; result: unknown }>([
    'create',
    'noop',
    '--input',
    '{"n": 1}',
    '--wait',
  ]);
  assert.equal(task.state, 'completed');
  const read = await json<{ id: string; state: string }>(['get', task.id]);
  assert.deepEqual([read.id, read.state], [task.id, 'completed']);
});

test('a task that fails exits 1; one that is cancelled exits 2; retry queues it again', async () => {
  const failed = await taskd([
    'create',
    'simulate',
    '--input',
    '{"ms": 0, "fail": "boom"}',
    '--max-attempts',
    '1',
    '--wait',
  ]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stdout, /^error +error: boom$/m);

  const long = await json<{ id: string }>(['create', 'simulate', '--input', '{"ms": 60000}']);
  const cancelled = await json<{ state: string }>(['cancel', long.id]);
  assert.equal(cancelled.state, 'cancelled');
  const waited = await taskd(['get', long.id, '--wait']);
  assert.equal(waited.code, 2, waited.stderr);

  const again = await json<{ state: string }>(['retry', long.id]);
  assert.equal(again.state, 'queued');
  await json(['cancel', long.id]);
  const refused = await taskd(['cancel', long.id]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /task_finished/);
});

test('ls filters by state, kind and queue, and pages with --limit and --cursor', async () => {
  for (let i = 0; i < 3; i++) await json(['create', 'noop', '--queue', 'ls-queue', '--wait']);
  const failed = await taskd([
    'create',
    'simulate',
    '--queue',
    'ls-queue',
    '--input',
    '{"ms": 0, "fail": "x"}',
    '--max-attempts',
    '1',
    '--wait',
  ]);
  assert.equal(failed.code, 1, failed.stderr);
  const completed = await json<{ tasks: { kind: string; state: string; queue: string }[] }>([
    'ls',
    '--queue',
    'ls-queue',
    '--state',
    'completed',
    '--kind',
    'noop',
  ]);
  assert.equal(completed.tasks.length, 3);
  assert.ok(
    completed.tasks.every((t) => t.kind === 'noop' && t.state === 'completed' && t.queue === 'ls-queue'),
  );
  const both = await json<{ tasks: unknown[] }>([
    'ls',
    '--queue',
    'ls-queue',
    '--state',
    'completed',
    '--state',
    'failed',
  ]);
  assert.equal(both.tasks.length, 4);
  const page = await json<{ tasks: unknown[]; next_cursor: string }>([
    'ls',
    '--queue',
    'ls-queue',
    '--limit',
    '3',
  ]);
  assert.equal(page.tasks.length, 3);
  const rest = await json<{ tasks: unknown[] }>([
    'ls',
    '--queue',
    'ls-queue',
    '--limit',
    '3',
    '--cursor',
    page.next_cursor,
  ]);
  assert.equal(rest.tasks.length, 1);
  const table = await taskd(['ls', '--queue', 'ls-queue', '--state', 'failed']);
  assert.match(table.stdout, /^ID +KIND +QUEUE +STATE/);
  assert.match(table.stdout, /simulate +ls-queue +failed/);
});

test('queues pause holds a queue’s tasks until resume; concurrency sets and lifts a limit', async () => {
  const paused = await json<{ queues: { name: string; paused: boolean }[] }>(['queues', 'pause', 'held']);
  assert.deepEqual(paused.queues, [{ ...paused.queues[0]!, name: 'held', paused: true }]);
  const task = await json<{ id: string; state: string }>(['create', 'noop', '--queue', 'held']);
  const listed = await json<{ queues: { name: string; paused: boolean; counts: Record<string, number> }[] }>([
    'queues',
  ]);
  const held = listed.queues.find((q) => q.name === 'held');
  assert.equal(held?.paused, true);
  assert.equal((await json<{ state: string }>(['get', task.id])).state, 'queued');
  await json(['queues', 'resume', 'held']);
  assert.equal((await taskd(['get', task.id, '--wait'])).code, 0);

  const limited = await json<{ queues: { concurrency: number | null }[] }>([
    'queues',
    'concurrency',
    'held',
    '2',
  ]);
  assert.equal(limited.queues[0]!.concurrency, 2);
  const lifted = await json<{ queues: { concurrency: number | null }[] }>([
    'queues',
    'concurrency',
    'held',
    'none',
  ]);
  assert.equal(lifted.queues[0]!.concurrency, null);
});

test('schedules set, ls and rm', async () => {
  const set = await json<{ name: string; next_runs: string[]; timezone: string }>([
    'schedules',
    'set',
    'cli-nightly',
    '--cron',
    '30 2 * * *',
    '--timezone',
    'Europe/Berlin',
    '--kind',
    'noop',
    '--input',
    '{"report": true}',
  ]);
  assert.deepEqual([set.name, set.timezone, set.next_runs.length], ['cli-nightly', 'Europe/Berlin', 5]);
  const ls = await json<{ schedules: { name: string; task: unknown }[] }>(['schedules', 'ls']);
  assert.deepEqual(
    ls.schedules.map((s) => [s.name, s.task]),
    [['cli-nightly', { kind: 'noop', input: { report: true } }]],
  );
  const table = await taskd(['schedules']);
  assert.match(table.stdout, /^cli-nightly +30 2 \* \* \* +Europe\/Berlin +noop +no /m);
  assert.equal((await taskd(['schedules', 'rm', 'cli-nightly'])).code, 0);
  assert.deepEqual((await json<{ schedules: unknown[] }>(['schedules'])).schedules, []);
  const gone = await taskd(['schedules', 'rm', 'cli-nightly']);
  assert.equal(gone.code, 4);
  assert.match(gone.stderr, /schedule_not_found/);
  const bad = await taskd(['schedules', 'set', 'x', '--cron', 'every day', '--kind', 'noop']);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /\/body\/cron/);
});

test("health prints the database's checks, per table, with their thresholds; --json the report", async () => {
  const report = await json<{ status: string; checks: { name: string; subject: string | null }[] }>([
    'health',
  ]);
  assert.match(report.status, /^(ok|warn)$/);
  assert.ok(report.checks.some((c) => c.name === 'dead_tuples' && c.subject === 'taskd.tasks'));
  const shown = await taskd(['health']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^status +(ok|warn)$/m);
  assert.match(shown.stdout, /^dead_tuples +taskd\.tasks +(ok|warn) +\d+ tuples +\d+ tuples$/m);
});

test('bad usage exits 3 with a message; an unknown id exits 4; an unreachable server exits 5', async () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['create', 'noop', '--input', '{not json'], /--input .* must be JSON/],
    [['create'], /missing required argument 'kind'/],
    [['ls', '--state', 'sleeping'], /must be one of queued, scheduled/],
    [['ls', '--limit', '0'], /--limit .* must be an integer from 1 to 500/],
    [['schedules', 'set', 'x', '--kind', 'noop'], /--cron <expression>' not specified/],
    [['queues', 'concurrency', 'q', 'lots'], /must be an integer from 0 to 1000000, or none/],
    [['create', 'no-such-kind'], /unknown_kind/],
  ];
  for (const [args, message] of cases) {
    const run = await taskd(args);
    assert.equal(run.code, 3, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(' '));
  }
  const missing = await taskd(['get', '00000000-0000-4000-8000-000000000000']);
  assert.equal(missing.code, 4);
  assert.match(missing.stderr, /task_not_found/);

  const port = await freePort();
  for (const args of [
    ['ls'],
    ['--url', `http://127.0.0.1:${port}`, 'get', '00000000-0000-4000-8000-000000000000'],
  ]) {
    const run = await taskd(args, { TASKD_URL: `http://127.0.0.1:${port}` });
    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, /cannot reach taskd at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  }
  const help = await taskd(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Commands:/);
});
