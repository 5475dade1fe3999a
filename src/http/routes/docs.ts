import type { IncomingHttpHeaders } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger, { type StaticDocumentSpec } from '@fastify/swagger';

/** Headers of a request that mean something to the reference page's files (caching, ranges), and no others. */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'accept-encoding',
  'if-none-match',
  'if-modified-since',
  'range',
];

/** Headers of the in-memory answer that belong to its own connection, not to the client's. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date']);

/**
 * The reference page at `/docs` (Swagger UI, its assets from the npm package, no online validator), built on its
 * first visit rather than at start: Swagger UI and the YAML library it loads were a tenth of every start, for a
 * page most processes never serve. A Fastify instance of its own serves it in memory (`inject`), from this
 * server's description of itself; what it cannot find is this server's 404, in this server's error shape.
 */
export function docsRoutes(app: FastifyInstance, prefix = '/docs'): void {
  let built: Promise<FastifyInstance> | undefined;
  const build = async (): Promise<FastifyInstance> => {
    const { default: swaggerUi } = await import('@fastify/swagger-ui');
    const docs = Fastify({ logger: false });
    // The document as this server generated it from its routes' schemas (the server is ready by now).
    // Static mode is typed for OpenAPI 2 and 3.0 only; the 3.1 document is served as it is.
    const document = app.swagger() as StaticDocumentSpec['document'];
    await docs.register(swagger, { mode: 'static', specification: { document } });
    await docs.register(swaggerUi, {
      routePrefix: prefix,
      staticCSP: true,
      uiConfig: { validatorUrl: null },
    });
    await docs.ready();
    return docs;
  };

  const serve = async (request: FastifyRequest, reply: FastifyReply) => {
    // A failed build (it should not fail: every part is in the package) is tried again on the next visit.
    built ??= build().catch((err: unknown) => {
      built = undefined;
      throw err;
    });
    const docs = await built;
    const answer = await docs.inject({
      // Always GET: for a HEAD, this server's own HEAD handling drops the body and keeps its length.
      method: 'GET',
      url: request.url,
      headers: pick(request.headers, FORWARDED_REQUEST_HEADERS),
    });
    if (answer.statusCode === 404) return reply.callNotFound();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) void reply.header(name, value);
    }
    return reply.code(answer.statusCode).send(answer.rawPayload);
  };
  app.get(prefix, { schema: { hide: true } }, serve);
  app.get(`${prefix}/*`, { schema: { hide: true } }, serve);
}

function pick(headers: IncomingHttpHeaders, names: readonly string[]): Record<string, string | string[]> {
  const picked: Record<string, string | string[]> = {};
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}
