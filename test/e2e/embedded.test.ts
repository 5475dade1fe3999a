import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { checkResult, createTask } from '../helpers/api.js';
import { clusterDirOf, EmbeddedCleanup, postmasterPid } from '../helpers/embedded.js';
import { freePort } from '../helpers/ports.js';
import { ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the embedded PostgreSQL default (no DATABASE_URL)', () => {
  // A mkdtemp folder is 0700: as root, the cluster then lives in a home of its own, and these restarts run on
  // that layout; otherwise in DATA_DIR/pg. The first start's log lines say which.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'taskd-embedded-'));
  const cleanup = new EmbeddedCleanup();
  const servers: ServerProcess[] = [];
  let port = 0;
  let cluster = '';

  after(async () => {
    for (const s of servers) await s.close();
    await cleanup.run(servers);
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<ServerProcess> {
    const s = new ServerProcess({
      DATABASE_URL: undefined,
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(port),
    });
    // Kept before it is ready, so that `after` finds the cluster of a start that failed half-way too.
    servers.push(s);
    await s.ready();
    cluster ||= clusterDirOf(s) ?? '';
    return s;
  }

  test('starts a real PostgreSQL, runs tasks, and stops the database on SIGTERM', async () => {
    port = await freePort();
    const s = await start();
    const { status, body } = await createTask(s.url, 'Example Task');
    assert.equal(status, 201);
    await waitFor(
      'completion',
      async () => (await checkResult(s.url, body.task_id)).body.Status === 'completed',
    );
    assert.ok(postmasterPid(cluster), 'a postmaster runs on the data directory');
    s.kill('SIGTERM');
    assert.equal((await s.exited).code, 0);
    assert.equal(postmasterPid(cluster), undefined, 'the embedded server was stopped');
    assert.ok(s.logs.some((l) => l.msg === 'embedded PostgreSQL stopped'));
  });

  test('keeps its data across restarts', async () => {
    const first = await start();
    const { body } = await createTask(first.url, 'survives a restart');
    await waitFor(
      'completion',
      async () => (await checkResult(first.url, body.task_id)).body.Status === 'completed',
    );
    first.kill('SIGINT');
    assert.equal((await first.exited).code, 0);
    const second = await start();
    assert.equal((await checkResult(second.url, body.task_id)).body.Status, 'completed');
    second.kill('SIGTERM');
    await second.exited;
  });

  test('after kill -9 of the service, the still-running database is reused', async () => {
    const first = await start();
    const { body } = await createTask(first.url, 'before the crash');
    const pid = postmasterPid(cluster);
    first.kill('SIGKILL');
    await first.exited;
    assert.equal(postmasterPid(cluster), pid, 'the detached database outlives the killed service');
    const second = await start();
    await second.waitForLog((l) =>
      l.msg.startsWith('embedded PostgreSQL from a previous run is still running'),
    );
    assert.equal((await checkResult(second.url, body.task_id)).status, 200);
    second.kill('SIGTERM');
    await second.exited;
  });

  test('after kill -9 of both service and database, a stale postmaster.pid does not prevent a start', async () => {
    const first = await start();
    const { body } = await createTask(first.url, 'before both crash');
    const pid = postmasterPid(cluster)!;
    const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
    first.kill('SIGKILL');
    await first.exited;
    process.kill(pid, 'SIGKILL');
    // The server's children notice their postmaster is gone and exit; postmaster.pid stays behind, stale.
    await waitFor('the old server gone', () => [pid, ...children].every((p) => !alive(p)), {
      timeoutMs: 20_000,
    });
    const second = await start();
    assert.equal((await checkResult(second.url, body.task_id)).status, 200);
    second.kill('SIGTERM');
    assert.equal((await second.exited).code, 0);
  });
});
