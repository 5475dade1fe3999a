import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../domain/errors.js';

/** Paths an orchestrator probes without credentials. */
export const PUBLIC_PATHS = new Set(['/healthz', '/readyz']);

/**
 * The API's description (/openapi.json, the reference page at /docs and its assets) needs no token: it tells
 * what the source tells, nothing of the tasks or the configuration, and a browser opening /docs cannot send a
 * bearer token. It is rate-limited like the rest.
 */
export function isApiDescription(path: string): boolean {
  return path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');
}

/**
 * The dashboard's static files (/ui/ and its assets) need no token either: they carry no data, and a browser
 * navigating to /ui/ cannot send a bearer token. The page asks for one and sends it with every API call.
 */
export function isDashboardAsset(path: string): boolean {
  return path === '/ui' || path.startsWith('/ui/');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Bearer-token authentication, on when API_TOKENS is set. Tokens are compared as SHA-256 digests with
 * timingSafeEqual, against every configured token (no early exit), so neither the length nor the content of a
 * token leaks through timing. Tokens and the Authorization header are never logged.
 */
export function requireBearerTokens(
  app: FastifyInstance,
  tokens: readonly string[],
  /** Paths the operator opened besides the health checks (/metrics with METRICS_PUBLIC=true). */
  alsoPublic: readonly string[] = [],
): void {
  const digests = tokens.map(digest);
  const open = new Set([...PUBLIC_PATHS, ...alsoPublic]);
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0]!;
    if (open.has(path) || isApiDescription(path) || isDashboardAsset(path)) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([^\s]+)$/i.exec(header.trim()) : null;
    let ok = false;
    if (match) {
      const presented = digest(match[1]!);
      for (const d of digests) ok = timingSafeEqual(presented, d) || ok;
    }
    if (!ok) {
      void reply.header('www-authenticate', 'Bearer');
      throw new ApiError('UNAUTHORIZED');
    }
  });
}
