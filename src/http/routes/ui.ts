import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/**
 * Where `npm run build` puts the dashboard: dist/ui of the package, found from this module both as compiled
 * (dist/http/routes) and as run from source (src/http/routes).
 */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../dist/ui/', import.meta.url));

/** Vite names every asset after a hash of its content: a new build is a new name, so it may be kept for good. */
const HASHED_ASSET = /\/assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

/**
 * The dashboard at `/ui/`: static files only, which carry no data (every piece of data comes from the v1 API,
 * with the token the page asks for), so they need no token. Hashed assets are cached for a year; index.html is
 * revalidated every time, so that a new build is seen at once. Nothing is fetched from elsewhere at run time.
 */
export async function uiRoutes(app: FastifyInstance, root: string = DEFAULT_UI_DIR): Promise<void> {
  app.get('/ui', { schema: { hide: true } }, (_request, reply) => reply.redirect('/ui/', 301));
  if (!existsSync(root)) {
    // A checkout that was never built (`npm run build` builds the dashboard): say so rather than 404 in silence.
    app.get('/ui/*', { schema: { hide: true } }, (request, reply) => {
      request.log.warn({ root }, 'the dashboard is not built: run npm run build');
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send('The dashboard is not built: run npm run build.\n');
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/ui/',
    schemaHide: true,
    // The cache headers are ours (below), per file.
    cacheControl: false,
    setHeaders: (reply, path) => {
      void reply.header(
        'cache-control',
        HASHED_ASSET.test(path.split('\\').join('/')) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      void reply.header('x-content-type-options', 'nosniff');
    },
  });
}
