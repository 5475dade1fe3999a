import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

const TOKEN = 'tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const OTHER = 'tok_0123456789abcdef0123456789abcdef';

let db: TestDatabase;
before(async () => {
  db = await createTestDatabase();
});
after(async () => db?.drop());

function create(url: string, headers: Record<string, string> = {}) {
  return fetch(`${url}/task/create`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ task: 'secured' }),
  });
}

describe('API tokens', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({
      DATABASE_URL: db.url,
      API_TOKENS: `${TOKEN}, ${OTHER}`,
      LOG_LEVEL: 'trace',
    });
  });
  after(async () => server?.close());

  test('every endpoint but the health checks requires a configured bearer token', async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: TOKEN },
      { authorization: 'Basic abc' },
    ]) {
      const res = await create(server.url, headers);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      assert.deepEqual(await res.json(), { error: 'Missing or invalid bearer token' });
    }
    const read = await fetch(`${server.url}/task/check-result?task_id=00000000-0000-4000-8000-000000000000`);
    assert.equal(read.status, 401);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });

  test('any configured token is accepted', async () => {
    for (const t of [TOKEN, OTHER]) {
      const res = await create(server.url, { authorization: `Bearer ${t}` });
      assert.equal(res.status, 201);
      const { task_id } = (await res.json()) as { task_id: string };
      const read = await fetch(`${server.url}/task/check-result?task_id=${task_id}`, {
        headers: { authorization: `Bearer ${t}` },
      });
      assert.equal(read.status, 200);
    }
  });

  test('tokens never appear in the logs, even at trace level', () => {
    const all = JSON.stringify(server.logs) + server.stderr.join('\n');
    assert.ok(server.logs.length > 0);
    assert.ok(!all.includes(TOKEN.slice(4)) && !all.includes(OTHER.slice(4)));
  });
});

/** The headers @fastify/rate-limit adds to every answer it counts (x-ratelimit-limit, -remaining, -reset). */
function rateLimitHeaders(res: Response): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => name.startsWith('x-ratelimit-')));
}

describe('rate limiting', () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServer({ DATABASE_URL: db.url, RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_MS: '60000' });
  });
  after(async () => server?.close());

  test('past the limit a client gets 429 JSON with Retry-After; health checks are exempt', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await create(server.url);
      statuses.push(res.status);
      // What "off by default" below looks for: a limited server says so on every answer it counts.
      assert.equal(res.headers.get('x-ratelimit-limit'), '5');
      if (res.status === 429) {
        assert.deepEqual(await res.json(), { error: 'Too many requests' });
        assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      } else {
        await res.body?.cancel();
      }
    }
    assert.deepEqual(statuses, [201, 201, 201, 201, 201, 429, 429, 429]);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });
});

test('rate limiting is off by default: answers carry no rate-limit headers and no request is refused', async () => {
  // Unset, whatever the environment of the test run holds: this is about the default.
  const server = await startServer({
    DATABASE_URL: db.url,
    RATE_LIMIT_MAX: undefined,
    RATE_LIMIT_WINDOW_MS: undefined,
  });
  try {
    // Any limit, however high, would show in the headers of the first answer; a few more requests show that
    // nothing is counted across them either.
    for (let i = 0; i < 10; i++) {
      const res = await create(server.url);
      assert.equal(res.status, 201);
      assert.deepEqual(rateLimitHeaders(res), {});
      assert.equal(res.headers.get('retry-after'), null);
      await res.body?.cancel();
    }
  } finally {
    await server.close();
  }
});
