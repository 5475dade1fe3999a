/**
 * The built-in `http` kind in real server processes, against a real local HTTP server: what completes, what is
 * retried (honouring Retry-After) and what fails at once, the signature a target verifies with the official
 * Standard Webhooks library, the response size bound, and the address guard with and without HTTP_ALLOW_HOSTS.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { Receiver } from '../helpers/receiver.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

interface Task {
  id: string;
  state: string;
  attempt: number;
  result: unknown;
  error: { type: string; message: string } | null;
}

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const MAX_RESPONSE_BYTES = 4096;

const databases: TestDatabase[] = [];
const servers: ServerProcess[] = [];
const receiver = new Receiver();
let allowed: ServerProcess;
let guarded: ServerProcess;

before(async () => {
  await receiver.start();
  const [a, b] = [await createTestDatabase(), await createTestDatabase()];
  databases.push(a, b);
  [allowed, guarded] = await Promise.all([
    startServer({
      DATABASE_URL: a.url,
      HTTP_ALLOW_HOSTS: 'localhost,127.0.0.1',
      WEBHOOK_SECRET: SECRET,
      HTTP_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
      RETRY_BACKOFF_BASE_MS: '10',
    }),
    startServer({ DATABASE_URL: b.url, RETRY_BACKOFF_BASE_MS: '10' }),
  ]);
  servers.push(allowed, guarded);
});

after(async () => {
  for (const s of servers) await s.close();
  await receiver.close();
  for (const db of databases) await db.drop();
});

async function create(server: ServerProcess, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${server.url}/v1/tasks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** Creates an http task and long-polls it until it is terminal. */
async function run(server: ServerProcess, input: unknown, extra: object = {}): Promise<Task> {
  const created = await create(server, { kind: 'http', input, ...extra });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const id = (created.json as Task).id;
  for (;;) {
    const task = (await (await fetch(`${server.url}/v1/tasks/${id}?wait=30`)).json()) as Task;
    if (['completed', 'failed', 'cancelled'].includes(task.state)) return task;
  }
}

test('a 2xx completes with status, headers and the body as JSON; the request is signed (verified with standardwebhooks)', async () => {
  const task = await run(allowed, {
    url: receiver.url('/ok?x=1'),
    method: 'POST',
    headers: { 'X-Trace': 'abc' },
    body: { hello: 'wörld' },
  });
  assert.equal(task.state, 'completed', JSON.stringify(task));
  const result = task.result as { status: number; headers: Record<string, string>; body: unknown };
  assert.equal(result.status, 200);
  assert.equal(result.headers['content-type'], 'application/json');
  assert.deepEqual(result.body, { ok: true });

  const [req] = receiver.to('/ok?x=1');
  assert.ok(req);
  assert.equal(req.method, 'POST');
  assert.equal(req.headers['x-trace'], 'abc');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers['webhook-id'], task.id);
  const headers = Object.fromEntries(
    ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((h) => [h, String(req.headers[h])]),
  );
  assert.deepEqual(new Webhook(SECRET).verify(req.body, headers), { hello: 'wörld' });
  assert.throws(() => new Webhook(SECRET).verify(`${req.body} `, headers));
});

test('a text response completes with the body as text', async () => {
  receiver.reply('/text', { status: 201, headers: { 'content-type': 'text/plain' }, body: 'made it' });
  const task = await run(allowed, { url: receiver.url('/text') });
  assert.equal(task.state, 'completed');
  assert.deepEqual((task.result as { status: number; body: unknown }).body, 'made it');
  assert.equal((task.result as { status: number }).status, 201);
});

test('503 with Retry-After, then 200: retried once, not before Retry-After, same webhook-id', async () => {
  receiver.reply('/flaky', { status: 503, headers: { 'retry-after': '1' }, body: 'busy' });
  const task = await run(allowed, { url: receiver.url('/flaky') });
  assert.equal(task.state, 'completed', JSON.stringify(task));
  assert.equal(task.attempt, 2);
  const [first, second] = receiver.to('/flaky');
  assert.ok(first && second);
  // The backoff alone would wait at most 10 ms (RETRY_BACKOFF_BASE_MS): the gap is Retry-After's.
  assert.ok(second.at - first.at >= 1000, `retried after ${second.at - first.at} ms`);
  assert.equal(first.headers['webhook-id'], second.headers['webhook-id']);
});

test('429 and 5xx are retried while attempts last; the last failure is the task’s error', async () => {
  receiver.reply('/down', { status: 500 }, { status: 429 }, { status: 502 });
  const task = await run(allowed, { url: receiver.url('/down') }, { max_attempts: 3 });
  assert.equal(task.state, 'failed');
  assert.equal(task.attempt, 3);
  assert.match(task.error?.message ?? '', /HTTP 502/);
});

test('a 404 fails at once, without a retry', async () => {
  receiver.reply('/missing', { status: 404, body: 'no' });
  const task = await run(allowed, { url: receiver.url('/missing') }, { max_attempts: 5 });
  assert.equal(task.state, 'failed');
  assert.equal(task.attempt, 1);
  assert.equal(task.error?.type, 'error');
  assert.match(task.error?.message ?? '', /HTTP 404/);
  assert.equal(receiver.to('/missing').length, 1);
});

test('a response larger than HTTP_MAX_RESPONSE_BYTES fails the task without a retry', async () => {
  receiver.reply('/big', { status: 200, body: 'x'.repeat(MAX_RESPONSE_BYTES + 1) });
  const task = await run(allowed, { url: receiver.url('/big') }, { max_attempts: 3 });
  assert.equal(task.state, 'failed');
  assert.equal(task.attempt, 1);
  assert.match(task.error?.message ?? '', /larger than 4096 bytes \(HTTP_MAX_RESPONSE_BYTES\)/);
});

test('a connection refused is a network error, retried', async () => {
  const closed = new Receiver();
  await closed.start();
  const url = closed.url('/gone');
  await closed.close();
  const task = await run(allowed, { url }, { max_attempts: 2 });
  assert.equal(task.state, 'failed');
  assert.equal(task.attempt, 2);
  assert.match(task.error?.message ?? '', /request failed: .*ECONNREFUSED/);
});

test('a host name resolving to loopback is refused without HTTP_ALLOW_HOSTS, and reached with it', async () => {
  const refused = await run(guarded, { url: receiver.url('/guarded', 'localhost') }, { max_attempts: 3 });
  assert.equal(refused.state, 'failed');
  assert.equal(refused.attempt, 1, 'a refused address is not retried');
  assert.match(refused.error?.message ?? '', /refused address .*loopback.* of host localhost/);
  const literal = await run(guarded, { url: receiver.url('/guarded') });
  assert.match(literal.error?.message ?? '', /refused address 127\.0\.0\.1 \(loopback\)/);
  const mapped = await run(guarded, { url: `http://[::ffff:127.0.0.1]:${receiver.port}/guarded` });
  assert.match(mapped.error?.message ?? '', /refused address .*IPv4-mapped loopback/);
  assert.equal(receiver.to('/guarded').length, 0, 'nothing reached the target');

  const reached = await run(allowed, { url: receiver.url('/guarded', 'localhost') });
  assert.equal(reached.state, 'completed', JSON.stringify(reached));
  assert.equal(receiver.to('/guarded').length, 1);
});

test('an invalid http input is refused at create with invalid_input and where it is wrong', async () => {
  const cases: [unknown, string][] = [
    [{}, '/input/url'],
    [{ url: 'ftp://example.com/' }, '/input/url'],
    [{ url: 'not a url' }, '/input/url'],
    [{ url: 'https://example.com', method: 'FETCH' }, '/input/method'],
    [{ url: 'https://example.com', headers: { Host: 'x' } }, '/input/headers/Host'],
    [{ url: 'https://example.com', headers: { a: 1 } }, '/input/headers/a'],
    [{ url: 'https://example.com', headers: { 'no token': 'x' } }, '/input/headers'],
    [{ url: 'https://example.com', body: 'x' }, '/input/body'],
    [{ url: 'https://example.com', extra: true }, '/input'],
    ['https://example.com', '/input'],
  ];
  for (const [input, path] of cases) {
    const res = await create(allowed, { kind: 'http', input });
    assert.equal(res.status, 400, JSON.stringify(input));
    const body = res.json as { code: string; details: { path: string }[] };
    assert.equal(body.code, 'invalid_input', JSON.stringify(input));
    assert.ok(
      body.details.some((d) => d.path === path),
      `${JSON.stringify(input)}: ${JSON.stringify(body.details)}`,
    );
  }
  const kinds = (await (await fetch(`${allowed.url}/v1/kinds`)).json()) as {
    kinds: { name: string; input_schema: unknown }[];
  };
  const http = kinds.kinds.find((k) => k.name === 'http');
  assert.ok(http && http.input_schema && typeof http.input_schema === 'object');
});
