/**
 * DATABASE_READ_URL: a real primary and a real streaming replica of it, both built here (initdb, pg_basebackup -R),
 * and real taskd processes using them. Pausing the replica's replay makes the two sides tell apart: what the
 * replica serves does not show a task created since, what the primary serves does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseExposition, promtoolFindings, valueOf } from '../helpers/prometheus.js';
import { ReplicaPair, replicaUnsupported } from '../helpers/replica-pair.js';
import { startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

interface TaskBody {
  id: string;
  state: string;
}
interface Check {
  name: string;
  subject: string | null;
  value: number | null;
  unit: string;
  threshold: number;
  status: string;
}

const unsupported = replicaUnsupported();

async function json<T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
}

async function create(server: ServerProcess): Promise<string> {
  const { status, body } = await json<TaskBody>(`${server.url}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'noop', input: {} }),
  });
  assert.equal(status, 201);
  return body.id;
}

async function listedIds(server: ServerProcess): Promise<string[]> {
  const { status, body } = await json<{ tasks: TaskBody[] }>(`${server.url}/v1/tasks?limit=200`);
  assert.equal(status, 200);
  return body.tasks.map((t) => t.id);
}

async function metrics(server: ServerProcess) {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

async function replicaCheck(server: ServerProcess): Promise<Check> {
  const { status, body } = await json<{ checks: Check[] }>(`${server.url}/v1/health`);
  assert.equal(status, 200);
  const check = body.checks.find((c) => c.name === 'read_replica_lag');
  assert.ok(check, 'GET /v1/health has a read_replica_lag check');
  return check;
}

const replicaReads = async (server: ServerProcess) =>
  valueOf(await metrics(server), 'taskd_db_reads_total', { target: 'replica' });

describe('read replica', { skip: unsupported }, () => {
  let pair: ReplicaPair;
  const servers: ServerProcess[] = [];
  let server: ServerProcess;
  const database = `taskd_replica_${process.pid}`;

  before(async () => {
    pair = await ReplicaPair.start();
    await pair.createDatabase(database);
    server = await startServer({
      DATABASE_URL: pair.primaryUrl(database),
      DATABASE_READ_URL: pair.replicaUrl(database),
      // Far beyond the pauses below: this process keeps reading from the replica however far it falls behind.
      DATABASE_READ_MAX_LAG_MS: '600000',
      WORKER_CONCURRENCY: '0',
    });
    servers.push(server);
    await server.waitForEvent('replica.used');
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await pair?.destroy();
  });

  test('lists come from the replica; a read right after a create finds the task on the primary', async () => {
    const first = await create(server);
    await waitFor('the replica to show the first task', async () =>
      (await listedIds(server)).includes(first),
    );
    assert.ok((await replicaReads(server)) > 0, 'reads were counted on the replica');

    await pair.pauseReplay();
    try {
      const second = await create(server);
      // The primary has the second task; a list from the replica, whose replay is paused, does not.
      const ids = await listedIds(server);
      assert.ok(ids.includes(first));
      assert.ok(!ids.includes(second), 'the list was served by the paused replica');

      // Reads by id that the replica cannot answer are asked of the primary: both APIs find the new task.
      const before = valueOf(await metrics(server), 'taskd_db_reads_total', {
        target: 'primary',
        reason: 'not_found',
      });
      const read = await json<TaskBody>(`${server.url}/v1/tasks/${second}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.id, second);
      const original = await json<{ Task_identification: string }>(
        `${server.url}/task/check-result?task_id=${second}`,
      );
      assert.equal(original.status, 200);
      assert.equal(original.body.Task_identification, second);
      const afterReads = valueOf(await metrics(server), 'taskd_db_reads_total', {
        target: 'primary',
        reason: 'not_found',
      });
      assert.equal(afterReads - before, 2, 'both reads fell back to the primary');

      // A task both sides have is read from the replica.
      const replicaBefore = await replicaReads(server);
      assert.equal((await json<TaskBody>(`${server.url}/v1/tasks/${first}`)).status, 200);
      assert.ok((await replicaReads(server)) > replicaBefore);

      // The dashboard's reads are served too (from the replica: they tolerate staleness).
      for (const path of ['/v1/stats', '/v1/workers', '/v1/queues']) {
        assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
      }

      // The primary keeps writing (heartbeats), the replica replays nothing: the lag grows, in both views.
      const lagging = await waitFor('the lag to show in /v1/health', async () => {
        const check = await replicaCheck(server);
        return check.value !== null && check.value > 0.2 ? check : undefined;
      });
      assert.equal(lagging.unit, 'seconds');
      assert.equal(lagging.subject, `127.0.0.1:${pair.replicaPort}/${database}`);
      assert.equal(lagging.threshold, 600);
      assert.equal(lagging.status, 'ok', 'within DATABASE_READ_MAX_LAG_MS');
      const scraped = await metrics(server);
      assert.ok(valueOf(scraped, 'taskd_db_read_replica_lag_seconds') > 0);
      assert.ok(valueOf(scraped, 'taskd_db_read_replica_lag_bytes') > 0);
      assert.equal(valueOf(scraped, 'taskd_db_read_replica_up'), 1);
      const { status, findings } = promtoolFindings(await (await fetch(`${server.url}/metrics`)).text());
      assert.deepEqual(findings, [], `promtool check metrics found problems:\n${findings.join('\n')}`);
      assert.ok(status === 0 || status === 3, `promtool exited ${status}`);
    } finally {
      await pair.resumeReplay();
    }
    await waitFor('the replica to catch up', async () => (await replicaCheck(server)).value === 0);
  });

  test('a replica beyond DATABASE_READ_MAX_LAG_MS sends reads to the primary until it catches up', async () => {
    const strict = await startServer({
      DATABASE_URL: pair.primaryUrl(database),
      DATABASE_READ_URL: pair.replicaUrl(database),
      DATABASE_READ_MAX_LAG_MS: '2000',
      WORKER_CONCURRENCY: '0',
    });
    servers.push(strict);
    await strict.waitForEvent('replica.used');

    await pair.pauseReplay();
    let task: string;
    try {
      task = await create(strict);
      await strict.waitForEvent('replica.unused', (l) => l.reason === 'lagging');
      // From the primary: the new task is listed although the replica has not replayed it.
      assert.ok((await listedIds(strict)).includes(task));
      const check = await replicaCheck(strict);
      assert.equal(check.status, 'warn');
      assert.ok(check.value !== null && check.value > 2);
      const scraped = await metrics(strict);
      assert.equal(valueOf(scraped, 'taskd_db_read_replica_up'), 0);
      assert.ok(valueOf(scraped, 'taskd_db_reads_total', { target: 'primary', reason: 'lagging' }) > 0);
    } finally {
      await pair.resumeReplay();
    }
    await waitFor(
      'reads to return to the replica',
      () => strict.logs.filter((l) => l.event === 'replica.used').length >= 2,
    );
    assert.equal((await replicaCheck(strict)).status, 'ok');
    assert.ok((await listedIds(strict)).includes(task));
  });

  test('without DATABASE_READ_URL there is no read replica check and no read replica metrics', async () => {
    const plain = await startServer({ DATABASE_URL: pair.primaryUrl(database), WORKER_CONCURRENCY: '0' });
    servers.push(plain);
    const { body } = await json<{ checks: Check[] }>(`${plain.url}/v1/health`);
    assert.ok(body.checks.length > 0);
    assert.ok(!body.checks.some((c) => c.name === 'read_replica_lag'));
    // The primary's own view of its replica is there all the same.
    assert.ok(body.checks.some((c) => c.name === 'replica_lag' && c.value !== null));
    const names = new Set((await metrics(plain)).map((s) => s.name));
    assert.ok(names.has('taskd_db_pool_connections'));
    for (const name of [...names]) assert.ok(!name.startsWith('taskd_db_read'), name);
    assert.ok(!names.has('taskd_db_reads_total'));
    await plain.close();
  });

  test('a stopped replica: every read still succeeds, from the primary', async () => {
    const before = await create(server);
    await waitFor('the replica to show the task', async () => (await listedIds(server)).includes(before));
    await pair.stopReplica();
    try {
      const task = await create(server);
      // The first read may be the one that finds the replica gone: it is answered from the primary all the same.
      assert.ok((await listedIds(server)).includes(task));
      assert.equal((await json<TaskBody>(`${server.url}/v1/tasks/${before}`)).status, 200);
      for (const path of ['/v1/stats', '/v1/workers', '/v1/queues', `/task/check-result?task_id=${task}`]) {
        assert.equal((await fetch(`${server.url}${path}`)).status, 200, path);
      }
      await server.waitForEvent('replica.unused', (l) => l.reason === 'down');
      const check = await replicaCheck(server);
      assert.equal(check.status, 'warn');
      assert.equal(check.value, null);
      const scraped = await metrics(server);
      assert.equal(valueOf(scraped, 'taskd_db_read_replica_up'), 0);
      assert.ok(valueOf(scraped, 'taskd_db_reads_total', { target: 'primary', reason: 'down' }) > 0);
    } finally {
      await pair.startReplica();
    }
    await waitFor(
      'reads to return to the replica once it is back',
      () => server.logs.filter((l) => l.event === 'replica.used').length >= 2,
      { timeoutMs: 20_000 },
    );
  });

  test('a promoted replica no longer follows the primary: reads go to the primary', async () => {
    await pair.promoteReplica();
    await server.waitForEvent('replica.unused', (l) => l.reason === 'not_a_standby');
    // Created after the promotion: only the primary has it, and lists show it.
    const task = await create(server);
    assert.ok((await listedIds(server)).includes(task));
    const check = await replicaCheck(server);
    assert.equal(check.status, 'warn');
    assert.equal(check.value, null);
    assert.equal(valueOf(await metrics(server), 'taskd_db_read_replica_up'), 0);
  });
});
