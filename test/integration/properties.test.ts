/**
 * Property-based tests of the HTTP API of one real server process: arbitrary methods, paths, headers, content
 * types, query strings and bodies (JSON or not, any Unicode, lone surrogates, NUL, right-to-left text,
 * megabyte strings). The service must never answer 5xx, must answer every error with JSON carrying a string
 * `error`, must stay up, and must give back any valid task string exactly as it was sent.
 *
 * A failing run prints fast-check's seed and path. Keep it in test/integration/regressions/ as a JSON file
 * ({"property": "...", "seed": n, "path": "..."} to replay a run, or {"property": "...", "examples": [...]}
 * for concrete cases): every file there is replayed first, on every run.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

const MAX_TASK_LENGTH = 65_536;
const BODY_LIMIT = 1_048_576;

interface Regression {
  property: string;
  seed?: number;
  path?: string;
  examples?: unknown[];
  note?: string;
}

const REGRESSIONS_DIR = path.resolve('test/integration/regressions');
const regressions: Regression[] = readdirSync(REGRESSIONS_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(path.join(REGRESSIONS_DIR, f), 'utf8')) as Regression);

interface Reply {
  status: number;
  contentType: string;
  text: string;
}

/**
 * One request on a fresh connection (a reused keep-alive socket that the server has just closed would fail in
 * the client, not in the service). An error of the request after its answer arrived is ignored: the server may
 * answer a too-large body with 413 and close the connection while the client is still writing.
 */
function send(
  port: number,
  req: { method: string; path: string; headers: Record<string, string>; body?: Buffer },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const r = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers: req.headers, agent: false },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    r.setTimeout(20_000, () => r.destroy(new Error('no answer within 20 s')));
    r.on('error', (err) => {
      if (!answered) reject(err);
    });
    r.end(req.body);
  });
}

/** The contract for every answer: no 5xx; an error answer is JSON with a string `error`. */
function checkAnswer(reply: Reply, what: string): unknown {
  assert.ok(reply.status < 500, `${what} → ${reply.status} ${reply.text.slice(0, 200)}`);
  if (reply.status === 204 || reply.text === '') {
    assert.ok(reply.status < 400, `${what} → ${reply.status} with an empty body`);
    return undefined;
  }
  assert.match(reply.contentType, /^application\/json/, `${what} → ${reply.status} ${reply.contentType}`);
  const body = JSON.parse(reply.text) as { error?: unknown };
  if (reply.status >= 400) assert.equal(typeof body.error, 'string', `${what} → ${reply.text.slice(0, 200)}`);
  return body;
}

// --- Arbitraries ---------------------------------------------------------------------------------------------

/** Any UTF-16 code unit: lone surrogates and NUL included. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const nastyText = fc.oneof(
  fc.string({ unit: anyCodeUnit, maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '\u0000',
    '\ud800',
    '\udfff',
    'a\ud83d',
    '\ufeffBOM',
    '\u202eRTL override\u202c',
    'שלום עולם',
    'مرحبا',
    'e\u0301\u0301\u0301',
    '👩‍👩‍👧‍👦',
    '\u2028\u2029',
    '\\u0000',
    '"\\',
    '{"task":"x"}',
    '__proto__',
  ),
);

/** Valid task strings: non-empty, well-formed, no NUL. */
const validTask = fc
  .oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 50 }),
    fc.string({ unit: anyCodeUnit, minLength: 1, maxLength: 100 }).map((s) => s.toWellFormed()),
    fc.constantFrom(
      '\ufeff',
      ' ',
      '\u202eevil.exe',
      'שלום',
      '\u{10ffff}',
      '\ufffe\uffff',
      '\u0001\u001f\u007f',
      '\r\n\t',
      '\\u0000',
      'x'.repeat(MAX_TASK_LENGTH),
      '€'.repeat(MAX_TASK_LENGTH),
      '😀'.repeat(MAX_TASK_LENGTH / 2),
    ),
  )
  .filter((s) => s.length > 0 && !s.includes('\u0000'));

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=latin1',
    'application/json;charset=UTF-16',
    'APPLICATION/JSON',
    'application/vnd.api+json',
    'text/plain',
    'text/html; charset=utf-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'application/octet-stream',
    '*/*',
    'application/',
    ';',
    '',
  ),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
);

const headerValue = fc.string({
  unit: fc.oneof(
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  ),
  maxLength: 60,
});
const headerName = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,24}$/)
  .filter(
    (n) => !['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'expect'].includes(n),
  );
const extraHeaders = fc.dictionary(
  fc.oneof(
    headerName,
    fc.constantFrom(
      'authorization',
      'x-forwarded-for',
      'content-encoding',
      'accept',
      'accept-encoding',
      'x-request-id',
      'cookie',
    ),
  ),
  headerValue,
  { maxKeys: 4 },
);

const body = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v) ?? ''),
  nastyText.map((t) => JSON.stringify({ task: t })),
  nastyText.map((t) => `{"task": "${t}"}`),
  fc.record({ task: fc.anything() }).map((v) => JSON.stringify(v) ?? ''),
  nastyText,
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
  fc.constantFrom(
    '',
    '{"task": "a", "task": "b"}',
    '{"__proto__": {"task": "x"}, "task": "y"}',
    '{"constructor": {"prototype": {"x": 1}}, "task": "z"}',
    `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
    `{"task": "${'x'.repeat(BODY_LIMIT)}"}`,
    `{"task": "${'x'.repeat(900_000)}"}`,
    `{"task": "${'\\ud800'.repeat(1000)}"}`,
    '{"task": "ok"}\u0000',
  ),
);

const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS');
const routePath = fc.oneof(
  fc.constantFrom(
    '/task/create',
    '/task/check-result',
    '/task/create/',
    '/TASK/CREATE',
    '/task//create',
    '/healthz',
    '/readyz',
    '/',
    '/task',
    '/%',
    '/%00',
    '/task/create?x=%',
    '/..%2f..%2fetc/passwd',
  ),
  nastyText.map((t) => `/${encodeURIComponent(t.toWellFormed())}`),
);

const queryString = fc.oneof(
  nastyText.map((t) => `task_id=${encodeURIComponent(t.toWellFormed())}`),
  fc.uuid().map((u) => `task_id=${u}`),
  fc.uuid().map((u) => `task_id=${u.toUpperCase()}&task_id=${u}`),
  fc.constantFrom(
    '',
    'task_id',
    'task_id=',
    'task_id[]=x',
    'task_id[a]=1',
    'task_id=%',
    'task_id=%ZZ',
    'task_id=%E0%A4%A',
    'task_id=%00',
    '&&&',
    '=',
    '__proto__=1',
    'constructor[prototype][x]=1',
  ),
  fc.string({
    unit: fc.constantFrom(...'abc_=&%0123456789[].-+'.split('')),
    maxLength: 40,
  }),
);

function regressionsFor(property: string): { examples: unknown[]; replays: Regression[] } {
  const mine = regressions.filter((r) => r.property === property);
  return {
    examples: mine.flatMap((r) => r.examples ?? []),
    replays: mine.filter((r) => r.seed !== undefined),
  };
}

describe('properties of the HTTP API, on a real server process', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let port = 0;
  /** Set once the server process has gone: a crash between two properties shows here. */
  let exit: Awaited<ServerProcess['exited']> | undefined;

  before(async () => {
    db = await createTestDatabase();
    server = await startServer({
      DATABASE_URL: db.url,
      SIMULATE_MIN_MS: '0',
      SIMULATE_MAX_MS: '5',
      MAX_TASK_LENGTH: String(MAX_TASK_LENGTH),
      BODY_LIMIT_BYTES: String(BODY_LIMIT),
    });
    port = Number(new URL(server.url).port);
    void server.exited.then((e) => {
      exit = e;
    });
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  /** Runs a property: the regression seeds and examples first, then fresh runs. */
  async function check<T>(
    name: string,
    arb: fc.Arbitrary<T>,
    predicate: (v: T) => Promise<void>,
    numRuns: number,
  ) {
    const { examples, replays } = regressionsFor(name);
    const prop = fc.asyncProperty(arb, predicate);
    for (const r of replays) await fc.assert(prop, { seed: r.seed!, path: r.path!, endOnFailure: true });
    await fc.assert(prop, { numRuns, examples: examples.map((e) => [e as T]) });
  }

  test('arbitrary requests never get a 5xx, and every error is JSON with a string "error"', async () => {
    await check(
      'any-request',
      fc.record({
        method,
        path: routePath,
        query: fc.option(queryString, { nil: undefined }),
        contentType: fc.option(contentType, { nil: undefined }),
        headers: extraHeaders,
        body: fc.option(body, { nil: undefined }),
      }),
      async (r) => {
        const headers: Record<string, string> = { ...r.headers };
        if (r.contentType !== undefined) headers['content-type'] = r.contentType;
        const target =
          r.query === undefined ? r.path : `${r.path}${r.path.includes('?') ? '&' : '?'}${r.query}`;
        const payload =
          r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
        let reply: Reply;
        try {
          reply = await send(port, { method: r.method, path: target, headers, body: payload });
        } catch (err) {
          // A request the server refuses without reading its body (no such route, a media type it does not
          // take) is answered at once and its connection closed; this client, still writing the body, may see
          // the close (EPIPE, reset) before it reads the answer. The process must still be up: the last test
          // of this file checks that, and that it logged no internal error.
          const code = (err as { code?: string }).code ?? '';
          if (payload !== undefined && payload.length > 0 && ['EPIPE', 'ECONNRESET'].includes(code)) return;
          throw err;
        }
        checkAnswer(reply, `${r.method} ${target.slice(0, 80)} [${r.contentType}]`);
      },
      2000,
    );
  });

  test('arbitrary query strings on check-result never get a 5xx', async () => {
    await check(
      'check-result-query',
      queryString,
      async (q) => {
        const reply = await send(port, { method: 'GET', path: `/task/check-result?${q}`, headers: {} });
        checkAnswer(reply, `check-result?${q}`);
        assert.ok([200, 400, 404].includes(reply.status), `check-result?${q} → ${reply.status}`);
      },
      1000,
    );
  });

  test('creates with any task string: 201 exactly when it is valid, 400 "Invalid task data" otherwise', async () => {
    await check(
      'create-validity',
      fc.oneof(nastyText, validTask),
      async (task) => {
        const reply = await send(port, {
          method: 'POST',
          path: '/task/create',
          headers: { 'content-type': 'application/json' },
          body: Buffer.from(JSON.stringify({ task })),
        });
        const valid =
          task.length > 0 &&
          task.length <= MAX_TASK_LENGTH &&
          !task.includes('\u0000') &&
          task.isWellFormed();
        const answer = checkAnswer(reply, `create ${JSON.stringify(task).slice(0, 60)}`) as Record<
          string,
          unknown
        >;
        if (valid) {
          assert.equal(reply.status, 201);
          assert.deepEqual(Object.keys(answer), ['task_id', 'status']);
        } else {
          assert.equal(reply.status, 400);
          assert.deepEqual(answer, { error: 'Invalid task data' });
        }
      },
      1000,
    );
  });

  test('a valid task string reads back byte for byte via check-result', async () => {
    await check(
      'round-trip',
      validTask,
      async (task) => {
        const created = await send(port, {
          method: 'POST',
          path: '/task/create',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: Buffer.from(JSON.stringify({ task }), 'utf8'),
        });
        assert.equal(created.status, 201, created.text.slice(0, 200));
        const id = (JSON.parse(created.text) as { task_id: string }).task_id;
        const read = await send(port, {
          method: 'GET',
          path: `/task/check-result?task_id=${id}`,
          headers: {},
        });
        assert.equal(read.status, 200);
        const back = (JSON.parse(read.text) as { Task: string }).Task;
        assert.ok(Buffer.from(back, 'utf8').equals(Buffer.from(task, 'utf8')), 'bytes differ');
        assert.equal(back, task);
      },
      1000,
    );
  });

  test('strings around the length limits and the body limit', async () => {
    let oversizedCutOff = 0;
    await check(
      'length-limits',
      fc.record({
        unit: fc.constantFrom('x', 'é', '€', '😀', '\u0301'),
        length: fc.oneof(
          fc.integer({ min: MAX_TASK_LENGTH - 3, max: MAX_TASK_LENGTH + 3 }),
          fc.integer({ min: 0, max: 3 }),
          fc.constantFrom(BODY_LIMIT / 2, BODY_LIMIT, 2 * BODY_LIMIT),
        ),
      }),
      async ({ unit, length }) => {
        const task = unit
          .repeat(Math.ceil(length / unit.length))
          .slice(0, length)
          .toWellFormed();
        const payload = Buffer.from(JSON.stringify({ task }));
        let reply: Reply;
        try {
          reply = await send(port, {
            method: 'POST',
            path: '/task/create',
            headers: { 'content-type': 'application/json' },
            body: payload,
          });
        } catch (err) {
          // Past the body limit the server answers 413 at once and closes the connection; a client still
          // writing the rest may see the close (EPIPE, reset) before it reads the answer.
          const code = (err as { code?: string }).code ?? '';
          if (payload.length > BODY_LIMIT && ['EPIPE', 'ECONNRESET'].includes(code)) {
            oversizedCutOff++;
            return;
          }
          throw err;
        }
        const answer = checkAnswer(reply, `${length} × ${JSON.stringify(unit)}`) as Record<string, unknown>;
        const expected =
          payload.length > BODY_LIMIT ? 413 : task.length >= 1 && task.length <= MAX_TASK_LENGTH ? 201 : 400;
        assert.equal(reply.status, expected, `${task.length} units, ${payload.length} bytes`);
        if (expected !== 201) assert.deepEqual(answer, { error: 'Invalid task data' });
      },
      40,
    );
    if (oversizedCutOff > 0)
      console.log(`oversized bodies cut off before the 413 was read: ${oversizedCutOff}`);
  });

  test('the process is still up, logged no internal error, and shuts down cleanly', async () => {
    assert.equal(exit, undefined, `the server process exited: ${JSON.stringify(exit)}\n${server.tail()}`);
    const reply = await send(port, { method: 'GET', path: '/healthz', headers: {} });
    assert.equal(reply.status, 200);
    // Log lines arrive asynchronously on a pipe; after a graceful stop every line the process wrote has been
    // read (see ServerProcess.exited), so none can be missed by counting too early.
    server.kill('SIGTERM');
    const { code } = await server.exited;
    const errors = server.logs.filter((l) => l.level >= 50);
    assert.equal(
      errors.length,
      0,
      `${errors.length} error lines, the first:\n${errors
        .slice(0, 10)
        .map((l) => JSON.stringify(l).slice(0, 500))
        .join('\n')}`,
    );
    assert.equal(code, 0, server.tail());
  });
});
