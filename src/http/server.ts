import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import { describeDbError, isTransientDbError } from '../db/errors.js';
import { API_ERRORS, ApiError, type ApiErrorCode } from '../domain/errors.js';
import type { ExternalWorkers } from '../domain/external-workers.js';
import type { TaskService } from '../domain/task-service.js';
import type { TaskWaiters } from '../domain/task-waiters.js';
import type { Logger } from '../logger.js';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { PUBLIC_PATHS, requireBearerTokens } from './auth.js';
import { ErrorCodeCatalog } from './schemas.js';
import { lazySchemaCompilers } from './lazy-compilers.js';
import { healthRoutes } from './routes/health.js';
import { operationsRoutes, type HealthSource } from './routes/operations.js';
import type { Metrics } from '../metrics/metrics.js';
import { taskRoutes } from './routes/tasks.js';
import { v1QueueRoutes } from './routes/v1/queues.js';
import { v1ScheduleRoutes } from './routes/v1/schedules.js';
import type { ScheduleService } from '../schedules/schedule-service.js';
import { v1EventRoutes } from './routes/v1/events.js';
import { v1TaskRoutes } from './routes/v1/tasks.js';
import { v1DeliveryRoutes } from './routes/v1/deliveries.js';
import { v1WorkerRoutes } from './routes/v1/workers.js';
import { v1OperationsRoutes } from './routes/v1/operations.js';
import { v1StreamRoutes } from './routes/v1/stream.js';
import { uiRoutes } from './routes/ui.js';
import { docsRoutes } from './routes/docs.js';
import type { ChangeFeed } from '../domain/change-feed.js';
import type { Operations } from '../domain/operations.js';

export interface ServerOptions {
  service: TaskService;
  /** Set: `?wait=` long-polls and the event streams of tasks are served. */
  waiters?: TaskWaiters | undefined;
  /** Set: the schedules are served (/v1/schedules). */
  schedules?: ScheduleService | undefined;
  /** Set: external workers claim and report tasks of the EXTERNAL_KINDS. */
  workers?: ExternalWorkers | undefined;
  /** `GET /v1/stream`, every task change as Server-Sent Events (the app always gives it). */
  feed?: ChangeFeed | undefined;
  /** `GET /v1/stats` and `GET /v1/workers` (the app always gives it). */
  operations?: Operations | undefined;
  /** Where the dashboard's built files are (dist/ui of the package unless given). */
  uiDir?: string | undefined;
  log: Logger;
  bodyLimitBytes: number;
  /** Set: every endpoint but the health checks requires one of these bearer tokens. */
  apiTokens?: readonly string[] | undefined;
  /** Set: each client address may make `max` requests per `windowMs`. */
  rateLimit?: { max: number; windowMs: number } | undefined;
  /**
   * How long a client has to send a whole request, headers and body, before it gets 408 and the connection is
   * closed. It ends when the request has arrived: a slow answer (a long-poll) is never cut by it. Unset: no
   * limit, which only suits `inject()`, where there is no connection.
   */
  requestTimeoutMs?: number | undefined;
  /** How long an idle keep-alive connection stays open. Unset: Fastify's 72 s. */
  keepAliveTimeoutMs?: number | undefined;
  /**
   * Peers whose X-Forwarded-For is believed, so that `request.ip` (which the rate limit counts by) is the
   * client's address rather than the proxy's: `true` for any peer, or addresses and CIDRs. Unset or `false`:
   * the header is ignored, since any client could send it.
   */
  trustProxy?: boolean | readonly string[] | undefined;
  /** Set: GET /metrics serves these, and every request's duration is counted. */
  metrics?: Metrics | undefined;
  /** true: /metrics needs no bearer token even when apiTokens is set (METRICS_PUBLIC). */
  metricsPublic?: boolean | undefined;
  /** Set: GET /v1/health answers with its report. */
  health?: HealthSource | undefined;
}

/**
 * Node's request-timeout settings for a given time to receive a whole request.
 *
 * - `headersTimeout` as Node's documented default, the lesser of the request timeout and 60 s. It must not be
 *   left above the request timeout: Node then swaps the two, and the body would get 60 s instead.
 * - Node looks for requests past their timeout only every `connectionsCheckingInterval` (30 s by default),
 *   which would stretch a short timeout by up to 30 s. A quarter of the timeout bounds that to 25 %; each
 *   check only walks the connections that are receiving a request.
 */
function requestTimeoutOptions(requestTimeoutMs: number) {
  return {
    requestTimeout: requestTimeoutMs,
    http: {
      headersTimeout: Math.min(requestTimeoutMs, 60_000),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.ceil(requestTimeoutMs / 4))),
    },
  };
}

/**
 * Answers a request that Node's HTTP parser gave up on before any route could see it (too slow, headers too
 * large, bytes that are not HTTP), in the API's own `{"error": ...}` shape rather than Fastify's, then closes
 * the connection, as Node itself would.
 */
function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  // A connection reset by the client: there is nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ApiErrorCode =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'REQUEST_TIMEOUT'
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? 'HEADERS_TOO_LARGE'
        : 'BAD_REQUEST';
  const { status, message } = API_ERRORS[code];
  const body = JSON.stringify({ error: message });
  this.log.debug({ err: { message: err.message, code: err.code } }, 'client error');
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** What the generated OpenAPI document says besides its paths. */
const OPENAPI_BASE = {
  openapi: '3.1.0',
  info: {
    title: 'taskd',
    version: '1',
    description:
      'A durable asynchronous task service on PostgreSQL. v1 errors are `{"error", "code", "details"?}`, with ' +
      'the stable codes each operation lists; the original API answers `{"error"}` alone.',
  },
  tags: [
    { name: 'tasks', description: 'v1 tasks: create, read, list, cancel, retry.' },
    { name: 'queues', description: 'v1 queues: counts, pause, concurrency limits.' },
    { name: 'kinds', description: 'The kinds of task this service runs.' },
    { name: 'schedules', description: 'v1 cron schedules: each tick creates one task.' },
    {
      name: 'workers',
      description:
        'External workers in any language: claim tasks of EXTERNAL_KINDS and report under a lease.',
    },
    {
      name: 'operations',
      description: 'For operators and the dashboard: throughput and latency, workers, live changes.',
    },
    {
      name: 'original API',
      description: 'The two endpoints of the original API; their shapes are a contract.',
    },
    { name: 'health', description: 'For orchestrators; never need a token.' },
    { name: 'operations', description: 'Prometheus metrics and the database health checks.' },
    {
      name: 'documentation',
      description: 'This document, and its reference page at /docs; no token needed.',
    },
  ],
  components: {
    schemas: { ErrorCode: ErrorCodeCatalog },
    securitySchemes: {
      bearer: {
        type: 'http' as const,
        scheme: 'bearer',
        description: 'Required by every endpoint but the health checks when API_TOKENS is set.',
      },
    },
  },
  security: [{ bearer: [] }],
};

/** A part a route needs that this server was built without (an app built only to describe the API). */
function need<T>(part: T | undefined, name: string): T {
  if (part === undefined) throw new Error(`this server was built without its ${name}`);
  return part;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

function isV1(request: FastifyRequest): boolean {
  return request.url.startsWith('/v1/') || request.url === '/v1';
}

/**
 * An error's body: `{"error"}` as the original API has always answered (its clients parse exactly that), and
 * `{"error", "code", "details"?}` on v1 paths, as the v1 contract says.
 */
function errorBody(request: FastifyRequest, code: ApiErrorCode, detail?: string, details?: unknown) {
  const { message } = API_ERRORS[code];
  if (!isV1(request)) return detail ? { error: message, detail } : { error: message };
  return {
    error: message,
    code: API_ERRORS[code].code,
    ...(detail !== undefined && { detail }),
    ...(details !== undefined && { details }),
  };
}

/** Fastify's own error codes that mean "the client sent something malformed". */
const MALFORMED_REQUEST_CODES = new Set([
  'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
  'FST_ERR_CTP_EMPTY_TYPE',
  'FST_ERR_CTP_INVALID_TYPE',
  'FST_ERR_BAD_URL',
  'FST_ERR_ASYNC_CONSTRAINT',
]);

/**
 * Builds the HTTP app without listening, so tests can use `inject()` and the composition root decides when to
 * listen. Every answer is JSON, including errors; internal errors are logged with the request id, which the
 * client gets too (X-Request-Id), and never carry stack traces, SQL or driver messages.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { service, log } = options;
  // Typed as Fastify's logger interface so that the instance is the plain FastifyInstance the routes take.
  const loggerInstance: FastifyBaseLogger = log;
  const app = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    bodyLimit: options.bodyLimitBytes,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Requests that reach a closing server are answered by the routes as usual (creates get our own 503
    // JSON): Fastify's built-in 503 has a body of another shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    clientErrorHandler,
    // A path parameter that is not valid percent-encoding (`/v1/tasks/%ZZ`) is refused by the router before the
    // error handler sees it; without this it would get Fastify's own body, with its `FST_ERR_BAD_URL` code.
    frameworkErrors: (_err, request, reply) => {
      const raw = reply as unknown as { code(n: number): { send(b: unknown): void } };
      raw.code(API_ERRORS.BAD_REQUEST.status).send(errorBody(request, 'BAD_REQUEST'));
    },
    // A field a route's schema does not know is an error to report, not something to drop in silence; input is
    // never coerced from one JSON type into another, but a query string's text is (`?limit=10`).
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: lazySchemaCompilers(),
    // Fastify turns Node's request timeout off by default, so a client that sends its headers or body slowly
    // (or never finishes) would hold its connection forever. No socket inactivity timeout (connectionTimeout)
    // is set: it would also cut answers that are slow on purpose.
    ...(options.requestTimeoutMs !== undefined && requestTimeoutOptions(options.requestTimeoutMs)),
    ...(options.keepAliveTimeoutMs !== undefined && { keepAliveTimeout: options.keepAliveTimeoutMs }),
    trustProxy:
      typeof options.trustProxy === 'object' ? [...options.trustProxy] : (options.trustProxy ?? false),
  });

  // ajv coerces a query-string number beyond what a double holds (`?limit=1e309`, `?wait=Infinity`) to Infinity,
  // which then passes `minimum` and `maximum`: such a value is refused here, before the route's schema sees it.
  app.addHook('preValidation', (request, _reply, done) => {
    const query = request.query as Record<string, unknown> | undefined;
    const schema = request.routeOptions.schema?.querystring as
      { properties?: Record<string, { type?: unknown }> } | undefined;
    for (const [name, value] of Object.entries(query ?? {})) {
      const type = schema?.properties?.[name]?.type;
      if (type !== 'integer' && type !== 'number') continue;
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string' && Math.abs(Number(v)) === Infinity) {
          done(
            new ApiError('INVALID_REQUEST', undefined, [
              { path: `/querystring/${name}`, message: 'must be a finite number' },
            ]),
          );
          return;
        }
      }
    }
    done();
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Draining: tell keep-alive clients to move on, so that no request is in flight on a connection when the
    // listener closes; new connections are refused cleanly from then on.
    if (!service.isAccepting) reply.header('connection', 'close');
  });

  // Rate limiting runs first (onRequest), so that guessing tokens is limited too; health checks are exempt. It
  // counts by `request.ip`: the client's address from X-Forwarded-For when the peer is a trusted proxy.
  if (options.rateLimit) {
    await app.register(rateLimit, {
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.windowMs,
      allowList: (request) => PUBLIC_PATHS.has(request.url.split('?', 1)[0]!),
      errorResponseBuilder: () => new ApiError('RATE_LIMITED'),
    });
  }
  const { metrics } = options;
  if (metrics) {
    // onResponse: the time until the answer was written, under the route's template (never the raw URL).
    app.addHook('onResponse', async (request, reply) => {
      metrics.observeHttp(
        request.routeOptions.url,
        request.method,
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
    });
  }
  if (options.apiTokens) {
    requireBearerTokens(app, options.apiTokens, options.metricsPublic ? ['/metrics'] : []);
  }

  // Before the routes: the document is generated from the schemas of the routes registered after it.
  await app.register(swagger, { openapi: OPENAPI_BASE });
  docsRoutes(app);
  app.get(
    '/openapi.json',
    {
      schema: {
        summary: 'This document',
        tags: ['documentation'],
        security: [],
        response: { 200: { type: 'object', additionalProperties: true, description: 'OpenAPI 3.1' } },
      },
    },
    () => app.swagger(),
  );

  taskRoutes(app, service);
  v1TaskRoutes(app, service, options.waiters);
  if (options.waiters) v1EventRoutes(app, options.waiters);
  v1QueueRoutes(app, service);
  v1DeliveryRoutes(app, service);
  if (options.schedules) v1ScheduleRoutes(app, options.schedules);
  v1WorkerRoutes(app, options.workers);
  // Registered whatever is given, so that the API's description always lists them (the app gives both).
  v1OperationsRoutes(app, service, () => need(options.operations, 'operations'));
  v1StreamRoutes(app, () => need(options.feed, 'change feed'));
  healthRoutes(app, service);
  operationsRoutes(app, { metrics, health: options.health, metricsPublic: options.metricsPublic ?? false });

  app.setNotFoundHandler((request, reply) => {
    // A known path asked with another method: 405, with the methods its routes answer (HEAD comes with GET).
    const url = request.url.split('?', 1)[0]!;
    const allowed = METHODS.filter((method) => app.hasRoute({ method, url })).join(', ');
    if (allowed) void reply.header('allow', allowed);
    const code: ApiErrorCode = allowed ? 'METHOD_NOT_ALLOWED' : 'NOT_FOUND';
    void reply.code(API_ERRORS[code].status).send(errorBody(request, code));
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const onCreate = request.routeOptions.url === '/task/create';
    const send = (code: ApiErrorCode, detail?: string, details?: unknown) =>
      reply.code(API_ERRORS[code].status).send(errorBody(request, code, detail, details));
    if (err instanceof ApiError) return send(err.code, err.detail, err.details);
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return send(isV1(request) ? 'REQUEST_TOO_LARGE' : 'BODY_TOO_LARGE');
    if (err.validation) {
      // A v1 request that its route's schema refuses: say where.
      const details = err.validation.map((v) => {
        const extra = (v.params as { additionalProperty?: unknown }).additionalProperty;
        const path = `/${err.validationContext ?? 'body'}${v.instancePath}`;
        return typeof extra === 'string'
          ? { path: `${path}/${extra}`, message: 'is not a field of this request' }
          : { path, message: v.message ?? 'is not valid' };
      });
      return send(onCreate ? 'INVALID_TASK_DATA' : 'INVALID_REQUEST', undefined, details);
    }
    if (MALFORMED_REQUEST_CODES.has(err.code) || (err.statusCode === 400 && err instanceof SyntaxError)) {
      return send(onCreate ? 'INVALID_TASK_DATA' : 'BAD_REQUEST');
    }
    if (request.raw.socket.destroyed) {
      // The connection closed before the request had arrived: past HTTP_REQUEST_TIMEOUT_MS, or the client went
      // away. Nobody is left to answer, and the ECONNRESET of the aborted body is the client's, not the database's.
      request.log.debug(
        { url: request.url, method: request.method },
        'connection closed before the request arrived',
      );
      return send('BAD_REQUEST');
    }
    if (isTransientDbError(err)) {
      request.log.warn({ err: describeDbError(err) }, 'database unavailable');
      return send('DATABASE_UNAVAILABLE');
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      return send(onCreate ? 'INVALID_TASK_DATA' : 'BAD_REQUEST');
    }
    request.log.error({ err, url: request.url, method: request.method }, 'internal error');
    return reply.code(500).send({ ...errorBody(request, 'INTERNAL'), request_id: request.id });
  });

  // Last: registering a plugin loads what was registered before it, and the routes must have the handlers above.
  await uiRoutes(app, options.uiDir);

  return app;
}
