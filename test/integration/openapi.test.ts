/**
 * The OpenAPI document and the reference page. The document must be valid OpenAPI 3.1, describe every v1 route
 * with its request and response schemas and the error codes it answers, and name every error code of the v1
 * contract; both it and /docs are served by a real process, with API_TOKENS set, with no network needed.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { TaskService } from '../../src/domain/task-service.js';
import { API_ERRORS } from '../../src/domain/errors.js';
import { buildServer } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startServer, type ServerProcess } from '../helpers/server.js';

/** The error codes the v1 contract names. */
const CONTRACT_CODES = [
  'invalid_request',
  'unknown_kind',
  'invalid_input',
  'unauthorized',
  'task_not_found',
  'queue_not_found',
  'task_finished',
  'task_not_retryable',
  'lease_lost',
  'idempotency_key_in_use',
  'idempotency_key_reused',
  'payload_too_large',
  'rate_limited',
  'shutting_down',
  'database_unavailable',
];

interface Schema {
  type?: string;
  enum?: string[];
  properties?: Record<string, Schema>;
}
interface Operation {
  summary?: string;
  tags?: string[];
  parameters?: { in: string; name: string }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Schema>;
    securitySchemes: Record<string, { type: string; scheme?: string }>;
  };
}

/** Every route of the app, as `METHOD /path`, read from Fastify's route tree (HEAD, which comes with GET, aside). */
function routesOf(tree: string): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^(.*?)[├└]── (\S*)(?: \(([^)]*)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD'))
      routes.push({ method, url: stack.join('') });
  }
  return routes;
}

const jsonSchema = (r: { content?: Record<string, { schema?: Schema }> } | undefined) =>
  r?.content?.['application/json']?.schema;

describe('the OpenAPI document', () => {
  let doc: Document;
  let routes: { method: string; url: string }[];

  before(async () => {
    const app = await buildServer({
      service: { isAccepting: true } as unknown as TaskService,
      log: createLogger('silent', new Writable({ write: (_chunk, _enc, done) => done() })),
      bodyLimitBytes: 1024,
    });
    try {
      const res = await app.inject({ url: '/openapi.json' });
      assert.equal(res.statusCode, 200);
      doc = res.json<Document>();
      routes = routesOf(app.printRoutes({ commonPrefix: false }));
    } finally {
      await app.close();
    }
  });

  test('is valid OpenAPI 3.1', async () => {
    assert.match(doc.openapi, /^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Parameters<Validator['validate']>[0]);
    assert.deepEqual(result, { valid: true }, JSON.stringify(result.errors, null, 2)?.slice(0, 2000));
    assert.equal(validator.version, '3.1');
    const bearer = doc.components.securitySchemes.bearer;
    assert.deepEqual([bearer?.type, bearer?.scheme], ['http', 'bearer']);
  });

  test('describes every v1 route: summary, tags, parameters, its answer and its errors with their codes', () => {
    const v1 = routes.filter((r) => r.url.startsWith('/v1/'));
    assert.ok(v1.length >= 10, `v1 routes found in the route tree: ${JSON.stringify(v1)}`);
    const problems: string[] = [];
    for (const { method, url } of v1) {
      const name = `${method} ${url}`;
      const path = url.replace(/:([A-Za-z_]+)/g, '{$1}');
      const op = doc.paths[path]?.[method.toLowerCase()];
      if (!op) {
        problems.push(`${name}: not in the document`);
        continue;
      }
      if (!op.summary) problems.push(`${name}: no summary`);
      if (!op.tags?.length) problems.push(`${name}: no tags`);
      for (const [, param] of path.matchAll(/\{(\w+)\}/g)) {
        if (!op.parameters?.some((p) => p.in === 'path' && p.name === param))
          problems.push(`${name}: path parameter ${param} undeclared`);
      }
      if (
        ['POST', 'PUT', 'PATCH'].includes(method) &&
        !jsonSchema(op.requestBody) &&
        !path.match(/\/(cancel|retry)$/)
      )
        problems.push(`${name}: no request body schema`);
      const ok = Object.entries(op.responses).filter(([s]) => /^2\d\d$/.test(s));
      if (ok.length === 0 || ok.some(([, r]) => !jsonSchema(r)))
        problems.push(`${name}: no 2xx response schema`);
      const errors = Object.entries(op.responses).filter(([s]) => /^[45]\d\d$/.test(s));
      for (const status of ['401', '429', '500', '503'])
        if (!op.responses[status]) problems.push(`${name}: no ${status} answer`);
      for (const [status, r] of errors) {
        const codes = jsonSchema(r)?.properties?.code?.enum;
        if (!codes?.length) problems.push(`${name}: ${status} names no error code`);
        for (const code of codes ?? []) {
          const s = Object.values(API_ERRORS).find((e) => e.code === code)?.status;
          if (s !== undefined && String(s) !== status)
            problems.push(`${name}: ${code} under ${status}, sent as ${s}`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  test('names every error code of the v1 contract and of API_ERRORS', () => {
    const catalogue = doc.components.schemas.ErrorCode?.enum ?? [];
    const answered = new Set(
      Object.values(doc.paths)
        .flatMap((ops) => Object.values(ops))
        .flatMap((op) => Object.values(op.responses))
        .flatMap((r) => jsonSchema(r)?.properties?.code?.enum ?? []),
    );
    assert.deepEqual(
      {
        notInCatalogue: [...CONTRACT_CODES, ...Object.values(API_ERRORS).map((e) => e.code)].filter(
          (c) => !catalogue.includes(c),
        ),
        answeredButNotInCatalogue: [...answered].filter((c) => !catalogue.includes(c)),
      },
      { notInCatalogue: [], answeredButNotInCatalogue: [] },
    );
  });

  test('describes the original API with its shapes as they are', () => {
    const create = doc.paths['/task/create']!.post!;
    assert.deepEqual(Object.keys(jsonSchema(create.responses['201'])!.properties!), ['task_id', 'status']);
    assert.deepEqual(jsonSchema(create.responses['400'])!.properties!.error!.enum, ['Invalid task data']);
    const read = doc.paths['/task/check-result']!.get!;
    assert.deepEqual(Object.keys(jsonSchema(read.responses['200'])!.properties!), [
      'Task',
      'CreatedAt',
      'Task_identification',
      'Result',
      'Status',
    ]);
    assert.ok(read.parameters?.some((p) => p.in === 'query' && p.name === 'task_id'));
  });
});

describe('/openapi.json and /docs on a real server process with API_TOKENS set', () => {
  let db: TestDatabase;
  let server: ServerProcess;

  before(async () => {
    db = await createTestDatabase();
    server = await startServer({ DATABASE_URL: db.url, API_TOKENS: 'a-long-enough-secret-token' });
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  test('serve the document and the reference page without a token, from the package, while v1 needs one', async () => {
    const spec = await fetch(`${server.url}/openapi.json`);
    assert.equal(spec.status, 200);
    assert.match(spec.headers.get('content-type') ?? '', /^application\/json/);
    const served = (await spec.json()) as Document;
    assert.ok(served.paths['/v1/tasks']?.post);

    const page = await fetch(`${server.url}/docs/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    // Every asset the page loads is served by this process: nothing from another host.
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
    for (const asset of html.matchAll(/(?:src|href)="\.\/([^"]+)"/g)) {
      const res = await fetch(`${server.url}/docs/${asset[1]!}`);
      assert.equal(res.status, 200, asset[1]);
      await res.arrayBuffer();
    }
    const init = await (await fetch(`${server.url}/docs/static/swagger-initializer.js`)).text();
    assert.match(init, /validatorUrl: null/);
    // The page reads the document this server generated, and its files revalidate like any static file.
    assert.deepEqual(await (await fetch(`${server.url}/docs/json`)).json(), served);
    const asset = await fetch(`${server.url}/docs/static/swagger-ui.css`);
    assert.equal(asset.status, 200);
    const etag = asset.headers.get('etag');
    assert.ok(etag);
    assert.ok((await asset.arrayBuffer()).byteLength > 0);
    const again = await fetch(`${server.url}/docs/static/swagger-ui.css`, {
      headers: { 'if-none-match': etag },
    });
    assert.equal(again.status, 304);
    const head = await fetch(`${server.url}/docs/static/swagger-ui.css`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), asset.headers.get('content-length'));

    const v1 = await fetch(`${server.url}/v1/tasks`);
    assert.equal(v1.status, 401);
    assert.equal(((await v1.json()) as { code: string }).code, 'unauthorized');
    const missing = await fetch(`${server.url}/docs/static/no-such-file.js`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^application\/json/);
  });
});
