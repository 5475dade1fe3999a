import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../domain/errors.js';

/** Paths an orchestrator probes without credentials. */
export const PUBLIC_PATHS = new Set(['/healthz', '/readyz']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * Bearer-token authentication, on when API_TOKENS is set. Tokens are compared as SHA-256 digests with
 * timingSafeEqual, against every configured token (no early exit), so neither the length nor the content of a
 * token leaks through timing. Tokens and the Authorization header are never logged.
 */
export function requireBearerTokens(app: FastifyInstance, tokens: readonly string[]): void {
  const digests = tokens.map(digest);
  app.addHook('onRequest', async (request, reply) => {
    if (PUBLIC_PATHS.has(request.url.split('?', 1)[0]!)) return;
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
