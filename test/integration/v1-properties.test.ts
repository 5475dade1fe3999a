/**
 * Property-based tests of the v1 API on one real server process: arbitrary JSON bodies, query strings and path
 * parameters for every v1 route never get a 5xx, every error is JSON with a string `error` and `code`, and any
 * storable JSON `input` reads back exactly as it was sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

interface Reply {
  status: number;
  body: unknown;
}

const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: anyCodeUnit, maxLength: 20 }),
  fc.constantFrom('', '\u0000', '\ud800', '__proto__', 'noop', 'default', '-1', '1e309', 'null'),
);
const json = fc.jsonValue({ maxDepth: 3 });
const anyJson = fc.oneof(json, fc.jsonValue({ maxDepth: 2, stringUnit: anyCodeUnit }));

/** Create bodies near the valid ones: the right keys, with any values, and stray keys. */
const createBody = fc.oneof(
  anyJson,
  fc.record(
    {
      kind: fc.oneof(fc.constant('noop'), text, anyJson),
      input: anyJson,
      queue: fc.oneof(text, anyJson),
      priority: fc.oneof(fc.integer(), fc.double(), anyJson),
      run_at: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        text,
      ),
      delay_ms: fc.oneof(fc.integer({ min: -10, max: 1000 }), anyJson),
      timeout_ms: fc.oneof(fc.integer(), anyJson),
      max_attempts: fc.oneof(fc.integer({ min: -1, max: 2000 }), anyJson),
      callback_url: fc.oneof(fc.webUrl(), text),
      idempotency_key: fc.oneof(text, anyJson),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(text, anyJson, { maxKeys: 3 }),
);

const query = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('wait', 'state', 'kind', 'queue', 'limit', 'cursor'), text),
      fc.oneof(text, fc.integer().map(String), fc.constantFrom('queued', 'failed', '0', '61', '0.5')),
    ),
    { maxLength: 4 },
  )
  .map((pairs) =>
    pairs
      .map(([k, v]) => `${encodeURIComponent(k.toWellFormed())}=${encodeURIComponent(v.toWellFormed())}`)
      .join('&'),
  );

const segment = fc.oneof(
  fc.uuid(),
  text.map((t) => encodeURIComponent(t.toWellFormed())),
  fc.constantFrom('00000000-0000-4000-8000-000000000000', 'default', '%00', '%ZZ'),
);

type Route = { method: string; path: (s: string) => string; body?: boolean };
const ROUTES: Route[] = [
  { method: 'POST', path: () => '/v1/tasks', body: true },
  { method: 'POST', path: () => '/v1/tasks/batch', body: true },
  { method: 'GET', path: () => '/v1/tasks' },
  { method: 'GET', path: (s) => `/v1/tasks/${s}` },
  { method: 'GET', path: (s) => `/v1/tasks/${s}/attempts` },
  { method: 'POST', path: (s) => `/v1/tasks/${s}/cancel`, body: true },
  { method: 'POST', path: (s) => `/v1/tasks/${s}/retry`, body: true },
  { method: 'GET', path: () => '/v1/queues' },
  { method: 'GET', path: (s) => `/v1/queues/${s}` },
  { method: 'PATCH', path: (s) => `/v1/queues/${s}`, body: true },
  { method: 'GET', path: () => '/v1/kinds' },
];

/** Whether jsonb can hold every string of a value (no NUL, no lone surrogate): the service refuses the rest. */
function storable(v: unknown): boolean {
  if (typeof v === 'string') return !v.includes('\u0000') && v.isWellFormed();
  if (Array.isArray(v)) return v.every(storable);
  if (v && typeof v === 'object') return Object.entries(v).every(([k, x]) => storable(k) && storable(x));
  return true;
}

describe('properties of the v1 API, on a real server process', () => {
  let db: TestDatabase;
  let server: ServerProcess;

  before(async () => {
    db = await createTestDatabase();
    // The engine is off: the properties are about the HTTP surface, and created tasks need not run.
    server = await startServer({ DATABASE_URL: db.url, WORKER_CONCURRENCY: '0' });
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  async function send(method: string, path: string, body?: string): Promise<Reply> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body,
    });
    const raw = await res.text();
    const what = `${method} ${path.slice(0, 120)} ${body?.slice(0, 200) ?? ''} → ${res.status} ${raw.slice(0, 300)}`;
    assert.ok(res.status < 500, what);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
    const parsed = JSON.parse(raw) as { error?: unknown; code?: unknown };
    if (res.status >= 400) {
      assert.equal(typeof parsed.error, 'string', what);
      assert.match(String(parsed.code), /^[a-z_]+$/, what);
    }
    return { status: res.status, body: parsed };
  }

  test('arbitrary bodies, queries and path parameters on every v1 route: no 5xx, errors are JSON with a code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        segment,
        query,
        fc.oneof(
          createBody.map((b) => JSON.stringify(b) ?? 'null'),
          fc.record({ tasks: fc.array(createBody, { maxLength: 3 }) }).map((b) => JSON.stringify(b)),
          fc
            .record({ paused: anyJson, concurrency: anyJson }, { requiredKeys: [] })
            .map((b) => JSON.stringify(b)),
        ),
        async (route, s, q, body) => {
          await send(route.method, `${route.path(s)}${q ? `?${q}` : ''}`, route.body ? body : undefined);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('any storable JSON input round-trips exactly; NUL, lone surrogates and __proto__ keys are refused with 400', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyJson,
          fc.constantFrom(
            -0,
            1e308,
            -1.7976931348623157e308,
            5e-324,
            2 ** 53 + 2,
            0.1,
            { '': -0 },
            ['\u0000'],
            JSON.parse('{"a": {"__proto__": 0}}') as unknown,
          ),
        ),
        async (input) => {
          const created = await send('POST', '/v1/tasks', JSON.stringify({ kind: 'noop', input }));
          // Keys that could poison a prototype are refused by the JSON parser, as a security measure.
          if (!storable(input) || poisoning(input)) {
            assert.equal(created.status, 400);
            assert.equal((created.body as { code: string }).code, 'invalid_request');
            return;
          }
          assert.equal(created.status, 201, JSON.stringify(created.body));
          // What was sent is the JSON text: -0 is sent as 0.
          const sent = JSON.parse(JSON.stringify(input)) as unknown;
          const { id, input: echoed } = created.body as { id: string; input: unknown };
          assert.deepEqual(echoed, sent);
          const read = await send('GET', `/v1/tasks/${id}`);
          assert.deepEqual((read.body as { input: unknown }).input, sent);
        },
      ),
      { numRuns: 500 },
    );
  });

  test('the process is still up and logged no internal error', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const errors = server.logs.filter((l) => l.level >= 50);
    assert.deepEqual(errors.slice(0, 5), []);
  });
});

/** Whether a value holds a `__proto__` key, or a `constructor` object with a `prototype` key, at any depth. */
function poisoning(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(poisoning);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(
    ([key, v]) =>
      key === '__proto__' ||
      (key === 'constructor' &&
        v !== null &&
        typeof v === 'object' &&
        Object.hasOwn(v as object, 'prototype')) ||
      poisoning(v),
  );
}
