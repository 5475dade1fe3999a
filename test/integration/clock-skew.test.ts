/**
 * A taskd process whose clock is off: times that decide when a task runs are the database's, never the process's.
 * The process runs under libfaketime (Debian's `faketime`, which .ci/run installs) with its wall clock a minute
 * behind; the test is skipped where libfaketime is missing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

const FAKETIME_LIB = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
].find((f) => existsSync(f));
const skip = FAKETIME_LIB ? false : 'libfaketime is not installed (apt-get install faketime)';

let db: TestDatabase;
let server: ServerProcess;

before(async () => {
  if (!FAKETIME_LIB) return;
  db = await createTestDatabase();
  server = await startServer({
    DATABASE_URL: db.url,
    LD_PRELOAD: FAKETIME_LIB,
    FAKETIME: '-60s',
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
  });
});

after(async () => {
  await server?.close();
  await db?.drop();
});

test('the process under test runs with its clock a minute behind', { skip }, async () => {
  const res = await fetch(`${server.url}/readyz`);
  const offset = Date.parse(res.headers.get('date') ?? '') - Date.now();
  assert.ok(offset < -50_000, `the server's Date header is ${offset} ms off, expected about -60,000`);
});

test(
  'delay_ms counts from the database clock, not from a process clock that is behind',
  { skip },
  async () => {
    const res = await fetch(`${server.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'noop', delay_ms: 30_000 }),
    });
    assert.equal(res.status, 201);
    const { id } = (await res.json()) as { id: string };
    const { rows } = await db.pool.query<{ state: string; delay_s: number }>(
      `SELECT state::text AS state, extract(epoch FROM run_at - created_at)::float8 AS delay_s
       FROM taskd.tasks WHERE id = $1`,
      [id],
    );
    // With the process's clock, run_at would be 30 s in the past: the task would be queued and run at once.
    assert.equal(rows[0]?.state, 'scheduled');
    assert.ok(
      Math.abs((rows[0]?.delay_s ?? NaN) - 30) < 1,
      `run_at is ${rows[0]?.delay_s} s after created_at, expected 30`,
    );
  },
);
