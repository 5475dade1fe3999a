import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';
import { createLogger } from '../../src/logger.js';
import { checkResult, createTask } from '../helpers/api.js';
import { freePort } from '../helpers/ports.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

// The database is a server of this test's own: stopping the machine's shared one would break other tests.
const dataDir = mkdtempSync(path.join(tmpdir(), 'taskd-outage-'));
// As root the server runs as the postgres user: open the way in, so that the cluster stays in this folder.
chmodSync(dataDir, 0o755);
const log = createLogger('silent');
let db: EmbeddedPostgres | undefined;
let server: ServerProcess | undefined;

after(async () => {
  await server?.close();
  await db?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function post(url: string): Promise<{ status: number; body: unknown; ms: number }> {
  const t0 = Date.now();
  const res = await fetch(`${url}/task/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ task: 'during the outage' }),
  });
  return { status: res.status, body: await res.json(), ms: Date.now() - t0 };
}

test('when PostgreSQL goes away, creates answer 503 JSON promptly; when it returns, the service recovers', async () => {
  const port = await freePort();
  db = await startEmbeddedPostgres({ dataDir, port, log });
  server = await startServer({ DATABASE_URL: db.url, SIMULATE_MIN_MS: '1000', SIMULATE_MAX_MS: '1000' });
  const before = await createTask(server.url, 'running through the outage');
  assert.equal(before.status, 201);
  await server.waitForEvent('task.started', (l) => l.task_id === before.body.task_id);

  await db.stop();
  for (let i = 0; i < 3; i++) {
    const r = await post(server.url);
    assert.equal(r.status, 503);
    assert.deepEqual(r.body, { error: 'Service unavailable: database unreachable' });
    assert.ok(r.ms < 5000, `answered in ${r.ms} ms`);
  }
  const read = await fetch(`${server.url}/task/check-result?task_id=${before.body.task_id}`);
  assert.equal(read.status, 503);
  assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);

  // The running task finishes while the database is away: its outcome waits, retried, instead of being lost.
  await server.waitForEvent('settle.retrying');

  db = await startEmbeddedPostgres({ dataDir, port, log });
  const after = await waitFor(
    'creates to succeed again',
    async () => {
      const r = await createTask(server!.url, 'after the outage');
      return r.status === 201 && r;
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  await waitFor(
    'the new task to complete',
    async () => (await checkResult(server!.url, after.body.task_id)).body.Status === 'completed',
    { timeoutMs: 20_000 },
  );
  // The task that was running when the database went away finished meanwhile; its outcome is written now.
  const first = await waitFor('the running task to be settled', async () => {
    const r = await checkResult(server!.url, before.body.task_id);
    return r.body.Status !== 'in progress' && r.body;
  });
  assert.equal(first.Status, 'completed');
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  assert.equal(server.logs.filter((l) => l.level >= 50 && l.msg === 'internal error').length, 0);
});
