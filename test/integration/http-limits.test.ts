/**
 * Limits of the HTTP listener, against real server processes: how long a client may take to send a request,
 * how long an idle keep-alive connection stays open, and whose X-Forwarded-For the rate limit believes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { InvalidConfigError, loadConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { MAIN, startServer, type ServerProcess } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/** A bound on what should take about a second: generous, as the machine may be busy. */
const CLOSE_WITHIN_MS = 5000;

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => db?.drop());

interface RawConnection {
  socket: net.Socket;
  /** Everything the server sent, once the connection has closed. */
  closed: Promise<string>;
}

/** Opens a connection of its own and writes `text` on it, and nothing more. */
async function rawConnection(baseUrl: string, text: string): Promise<RawConnection> {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<string>((resolve) =>
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1'))),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => socket.write(text, (err) => (err ? reject(err) : resolve())));
  return { socket, closed };
}

/** Resolves as `promise` does, or fails once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Asserts that `received` is one whole 408 answer with a JSON body. */
function assertRequestTimeout(received: string): void {
  assert.match(received, /^HTTP\/1\.1 408 /, `expected a 408, got ${JSON.stringify(received)}`);
  const body = JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
  assert.deepEqual(body, { error: 'Request timeout' }, "the API's own error shape");
  assert.ok(!received.includes(' at '), 'no stack trace');
}

const PARTIAL_HEADERS = 'GET /healthz HTTP/1.1\r\nHost: taskd\r\nX-Slow: ';
const PARTIAL_BODY =
  'POST /task/create HTTP/1.1\r\nHost: taskd\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"task": "sl';

describe('request and keep-alive timeouts', () => {
  let server: ServerProcess;
  const open: net.Socket[] = [];
  before(async () => {
    server = await startServer({
      DATABASE_URL: db.url,
      WORKER_CONCURRENCY: '0',
      HTTP_REQUEST_TIMEOUT_MS: '1000',
      HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
      LOG_LEVEL: 'debug',
    });
  });
  after(async () => {
    for (const socket of open) socket.destroy();
    await server?.close();
  });

  async function connect(text: string): Promise<RawConnection> {
    const connection = await rawConnection(server.url, text);
    open.push(connection.socket);
    return connection;
  }

  test('a request whose headers or body never finish gets 408 and is closed; other connections are served meanwhile', async () => {
    const slowHeaders = await connect(PARTIAL_HEADERS);
    const slowBody = await connect(PARTIAL_BODY);

    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });

    assertRequestTimeout(await within(slowHeaders.closed, CLOSE_WITHIN_MS, 'stalled headers closed'));
    assertRequestTimeout(await within(slowBody.closed, CLOSE_WITHIN_MS, 'stalled body closed'));

    // The aborted body is the client's doing: no warning (such as "database unavailable") is logged for it.
    await server.waitForLog((l) => l.msg === 'connection closed before the request arrived');
    assert.deepEqual(
      server.logs.filter((l) => l.level >= 40),
      [],
    );
  });

  test('requests Node cannot parse get the API’s own JSON errors, and their connection is closed', async () => {
    const huge = await connect(
      `GET /healthz HTTP/1.1\r\nHost: taskd\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`,
    );
    const garbage = await connect('NOT HTTP AT ALL\r\n\r\n');
    const bodyOf = (received: string) =>
      JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as unknown;
    const tooLarge = await within(huge.closed, CLOSE_WITHIN_MS, 'oversized headers answered');
    assert.match(tooLarge, /^HTTP\/1\.1 431 /);
    assert.deepEqual(bodyOf(tooLarge), { error: 'Request headers too large' });
    const bad = await within(garbage.closed, CLOSE_WITHIN_MS, 'garbage answered');
    assert.match(bad, /^HTTP\/1\.1 400 /);
    assert.deepEqual(bodyOf(bad), { error: 'Bad request' });
  });

  test('the timeout ends once the request has arrived: an answer slower than it is not cut', async () => {
    // Inserts wait behind this lock, so the create below is answered only when the test lets it.
    const blocker = await db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE taskd.tasks IN SHARE MODE');
      let answered = false;
      const create = fetch(`${server.url}/task/create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ task: 'slow answer' }),
      }).finally(() => (answered = true));
      await waitFor('the create to wait for the lock', async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'taskd' AND wait_event_type = 'Lock'`,
        );
        return rows[0]!.n > 0;
      });
      // A request stalled after the create had fully arrived: its 408 means that more than the request timeout
      // has passed since, with the create still waiting for its answer.
      const stalled = await connect(PARTIAL_HEADERS);
      assertRequestTimeout(await within(stalled.closed, CLOSE_WITHIN_MS, 'stalled request closed'));
      assert.equal(answered, false, 'the create is still waiting for the lock');

      await blocker.query('COMMIT');
      const res = await create;
      assert.equal(res.status, 201);
      assert.equal(((await res.json()) as { status: string }).status, 'success');
    } finally {
      await blocker.query('ROLLBACK').catch(() => {});
      blocker.release();
    }
  });

  test('an idle keep-alive connection is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const idle = await connect('GET /healthz HTTP/1.1\r\nHost: taskd\r\nConnection: keep-alive\r\n\r\n');
    const received = await within(idle.closed, CLOSE_WITHIN_MS, 'idle keep-alive connection closed');
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.match(received, /\r\nkeep-alive: timeout=1\r\n/i);
  });
});

function create(url: string, forwardedFor?: string): Promise<number> {
  return fetch(`${url}/task/create`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(forwardedFor !== undefined && { 'x-forwarded-for': forwardedFor }),
    },
    body: JSON.stringify({ task: 'counted' }),
  }).then(async (res) => {
    await res.body?.cancel();
    return res.status;
  });
}

async function statusesInOrder(url: string, forwardedFor: string[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const address of forwardedFor) statuses.push(await create(url, address));
  return statuses;
}

const LIMITED = { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_MS: '600000', WORKER_CONCURRENCY: '0' };

test('behind a trusted proxy, each forwarded client address has its own rate limit', async () => {
  const server = await startServer({ DATABASE_URL: db.url, ...LIMITED, TRUST_PROXY: '127.0.0.1' });
  try {
    assert.deepEqual(
      await statusesInOrder(server.url, [
        '203.0.113.1',
        '203.0.113.2',
        '203.0.113.1',
        // What a client sends in the header itself is passed over: the proxy appends the address it saw.
        '198.51.100.7, 203.0.113.1',
        '203.0.113.2',
        '203.0.113.2',
      ]),
      [201, 201, 201, 429, 201, 429],
    );
  } finally {
    await server.close();
  }
});

test('without TRUST_PROXY, X-Forwarded-For is ignored: all requests from one address share its limit', async () => {
  const server = await startServer({ DATABASE_URL: db.url, ...LIMITED });
  try {
    assert.deepEqual(
      await statusesInOrder(server.url, ['203.0.113.1', '203.0.113.2', '203.0.113.3']),
      [201, 201, 429],
    );
  } finally {
    await server.close();
  }
});

test('TRUST_PROXY takes true, false or addresses and CIDRs, and refuses anything else by name', () => {
  assert.equal(loadConfig({}).TRUST_PROXY, false);
  assert.equal(loadConfig({ TRUST_PROXY: 'true' }).TRUST_PROXY, true);
  assert.equal(loadConfig({ TRUST_PROXY: 'false' }).TRUST_PROXY, false);
  assert.deepEqual(loadConfig({ TRUST_PROXY: ' 10.0.0.1, 192.168.0.0/16,fd00::/8, loopback ' }).TRUST_PROXY, [
    '10.0.0.1',
    '192.168.0.0/16',
    'fd00::/8',
    'loopback',
  ]);
  for (const bad of ['2', 'yes', '10.0.0.0/33', '::1/129', 'proxy.internal', '10.0.0.1,,nope', ',']) {
    assert.throws(
      () => loadConfig({ TRUST_PROXY: bad }),
      (err: unknown) =>
        err instanceof InvalidConfigError &&
        err.problems.length === 1 &&
        err.problems[0]!.startsWith('TRUST_PROXY must '),
      bad,
    );
  }
  assert.throws(() => loadConfig({ TRUST_PROXY: '1' }), /not a hop count/);

  const r = spawnSync(process.execPath, [MAIN], {
    env: { ...process.env, TRUST_PROXY: '1' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(r.stderr.trim(), /^taskd: invalid configuration: TRUST_PROXY must [^\n]*hop count[^\n]*$/);
});
