import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { ServerProcess, startServer } from '../helpers/server.js';

interface Task {
  id: string;
  state: string;
  queue: string;
  attempt: number;
  max_attempts: number;
  timeout_ms: number;
  result: unknown;
  error: { type: string; message: string } | null;
}

const databases: TestDatabase[] = [];
const dirs: string[] = [];
after(async () => {
  for (const db of databases) await db.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Inside the checkout, so that its modules resolve `taskd/handler` and `typebox` as a project's would. */
function handlersDir(files: Record<string, string>): string {
  mkdirSync('.tmp', { recursive: true });
  const dir = mkdtempSync(path.resolve('.tmp/handlers-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

async function call(base: string, method: string, p: string, body?: unknown) {
  const res = await fetch(`${base}${p}`, {
    method,
    ...(body !== undefined && {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const GREET = `
import Type from 'typebox';
import { defineHandler } from 'taskd/handler';
export default defineHandler({
  input: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  queue: 'greetings',
  timeoutMs: 5000,
  maxAttempts: 2,
  backoff: { baseMs: 50 },
  run(input, ctx) {
    ctx.log.info({ name: input.name }, 'greeting');
    return 'hello ' + input.name + ' (attempt ' + ctx.attempt + ')';
  },
});
`;

test('a module kind: listed with its defaults and schema, input checked on create, its defaults applied, SQL-created input checked at run', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const s = await startServer({ DATABASE_URL: db.url, HANDLERS_DIR: handlersDir({ 'greet.ts': GREET }) });
  try {
    const kinds = (await call(s.url, 'GET', '/v1/kinds')).body.kinds as Record<string, unknown>[];
    assert.deepEqual(
      kinds.find((k) => k.name === 'greet'),
      {
        name: 'greet',
        source: 'module',
        defaults: {
          queue: 'greetings',
          timeout_ms: 5000,
          max_attempts: 2,
          backoff: { base_ms: 50, max_ms: 3_600_000 },
        },
        input_schema: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', minLength: 1 } },
        },
      },
    );

    // Refused, saying where; nothing is created.
    const bad = await call(s.url, 'POST', '/v1/tasks', { kind: 'greet', input: { name: 7 } });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, {
      error: "Input does not match the kind's schema",
      code: 'invalid_input',
      details: [{ path: '/input/name', message: 'must be string' }],
    });
    const missing = await call(s.url, 'POST', '/v1/tasks', { kind: 'greet' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.code, 'invalid_input');
    const batch = await call(s.url, 'POST', '/v1/tasks/batch', {
      tasks: [
        { kind: 'greet', input: { name: 'a' } },
        { kind: 'greet', input: { name: 'b', extra: 1 } },
      ],
    });
    assert.equal(batch.status, 400);
    assert.equal(batch.body.code, 'invalid_input');
    assert.deepEqual(batch.body.details, [
      { path: '/tasks/1/input', message: 'must NOT have additional properties' },
    ]);
    const listed = await call(s.url, 'GET', '/v1/tasks?kind=greet');
    assert.deepEqual(listed.body.tasks, []);

    // Accepted, with the module's defaults where the create sets none.
    const created = await call(s.url, 'POST', '/v1/tasks?wait=20', { kind: 'greet', input: { name: 'Ada' } });
    assert.equal(created.status, 201);
    const task = created.body as unknown as Task;
    assert.deepEqual(
      [task.state, task.result, task.queue, task.timeout_ms, task.max_attempts],
      ['completed', 'hello Ada (attempt 1)', 'greetings', 5000, 2],
    );
    const own = await call(s.url, 'POST', '/v1/tasks', {
      kind: 'greet',
      input: { name: 'Bo' },
      queue: 'mine',
      max_attempts: 5,
    });
    assert.deepEqual([own.body.queue, own.body.max_attempts, own.body.timeout_ms], ['mine', 5, 5000]);
    const rows = await db.pool.query<{ backoff_base_ms: number | null; backoff_max_ms: number | null }>(
      'SELECT backoff_base_ms, backoff_max_ms FROM taskd.tasks WHERE id = $1',
      [task.id],
    );
    assert.deepEqual(rows.rows[0], { backoff_base_ms: 50, backoff_max_ms: null });
    await s.waitForLog((l) => l.msg === 'greeting' && l.task_id === task.id && l.name === 'Ada');

    // SQL cannot ask Node: the input is checked before the run, and fails the task without a retry.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    let id: string;
    try {
      const r = await client.query<{ id: string }>(
        `SELECT taskd.add_task(kind => 'greet', input => '{"name": 5}'::jsonb, max_attempts => 3) AS id`,
      );
      id = r.rows[0]!.id;
    } finally {
      await client.end();
    }
    const failed = (await call(s.url, 'GET', `/v1/tasks/${id}?wait=20`)).body as unknown as Task;
    assert.equal(failed.state, 'failed');
    assert.equal(failed.attempt, 1);
    assert.equal(failed.error?.type, 'error');
    assert.match(
      failed.error?.message ?? '',
      /input does not match the kind's schema: \/name must be string/,
    );
  } finally {
    await s.close();
  }
});

const broken: [string, Record<string, string>, RegExp][] = [
  ['a syntax error', { 'bad.mjs': 'export default { run( };' }, /bad\.mjs: cannot be loaded: .*/],
  [
    'a TypeScript syntax error',
    { 'bad.ts': 'export default { run(: number) {} };' },
    /bad\.ts: cannot be loaded: /,
  ],
  [
    'a throw on import',
    { 'boom.mjs': "throw new Error('no config here');" },
    /boom\.mjs: cannot be loaded: no config here/,
  ],
  ['no default export', { 'nodef.mjs': 'export const run = () => 1;' }, /nodef\.mjs: has no default export/],
  [
    'run not a function',
    { 'norun.mjs': 'export default { run: 1 };' },
    /norun\.mjs: "run" must be a function, got number/,
  ],
  [
    'an input schema ajv cannot compile',
    { 'schema.mjs': "export default { run() {}, input: { type: 'strng' } };" },
    /schema\.mjs: invalid input schema: .*type/,
  ],
  [
    'an unknown keyword in the schema',
    { 'typo.mjs': "export default { run() {}, input: { type: 'object', propertees: {} } };" },
    /typo\.mjs: invalid input schema: .*propertees/,
  ],
  [
    'a bad timeoutMs',
    { 't.mjs': 'export default { run() {}, timeoutMs: 0 };' },
    /t\.mjs: "timeoutMs" must be an integer from 1 to 86400000, got 0/,
  ],
  [
    'a bad maxAttempts',
    { 'm.mjs': "export default { run() {}, maxAttempts: 'x' };" },
    /m\.mjs: "maxAttempts" must be an integer/,
  ],
  [
    'a bad backoff',
    { 'b.mjs': 'export default { run() {}, backoff: { base: 5 } };' },
    /b\.mjs: "backoff" has unknown option "base"/,
  ],
  [
    'a bad queue',
    { 'q.mjs': "export default { run() {}, queue: 'no spaces' };" },
    /q\.mjs: "queue" must be a queue name/,
  ],
  [
    'a bad isolation',
    { 'i.mjs': "export default { run() {}, isolation: 'process' };" },
    /i\.mjs: "isolation" must be "inline" or "thread"/,
  ],
  [
    'an unknown option',
    { 'o.mjs': 'export default { run() {}, timeout: 5 };' },
    /o\.mjs: unknown option "timeout"/,
  ],
  [
    'a built-in name',
    { 'noop.mjs': 'export default { run() {} };' },
    /noop\.mjs: "noop" is the name of a built-in kind/,
  ],
  [
    'an invalid kind name',
    { '-x.mjs': 'export default { run() {} };' },
    /-x\.mjs: "-x" is not a valid kind name/,
  ],
  [
    'two files of one name',
    { 'twice.mjs': 'export default { run() {} };', 'twice.ts': 'export default { run() {} };' },
    /twice\.ts: kind "twice" is defined by .*twice\.mjs too/,
  ],
];

test('a broken handler module stops the start with one line naming the file and the reason, exit code 1', async () => {
  const db = await createTestDatabase();
  databases.push(db);
  const wrong: string[] = [];
  for (const [what, files, expected] of broken) {
    const s = new ServerProcess({ DATABASE_URL: db.url, HANDLERS_DIR: handlersDir(files) });
    const { code } = await s.exited;
    const lines = s.stderr.filter((l) => l.trim() !== '');
    if (
      code !== 1 ||
      lines.length !== 1 ||
      !expected.test(lines[0]!) ||
      !lines[0]!.startsWith('taskd: handler module ')
    )
      wrong.push(`${what}: exit ${code}, stderr ${JSON.stringify(lines)}`);
  }
  // An explicitly named directory that is not there is a mistake too; the default one may be absent.
  const missing = new ServerProcess({ DATABASE_URL: db.url, HANDLERS_DIR: '/nonexistent/handlers' });
  const { code } = await missing.exited;
  if (
    code !== 1 ||
    missing.stderr.join('\n') !== 'taskd: HANDLERS_DIR /nonexistent/handlers is not a directory'
  )
    wrong.push(`missing dir: exit ${code}, stderr ${JSON.stringify(missing.stderr)}`);
  assert.deepEqual(wrong, []);
});
