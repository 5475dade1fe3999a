import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../domain/errors.js';
import type { HealthReport } from '../../health/checks.js';
import type { Metrics } from '../../metrics/metrics.js';
import { DbHealth, errorResponses } from '../schemas.js';

/** Where GET /v1/health gets its report: sampled fresh for each request. */
export interface HealthSource {
  report(): Promise<HealthReport>;
}

/**
 * GET /metrics (Prometheus text format) and GET /v1/health (the database's health checks). Both are always
 * routed, so that the API's description is the same whatever the process was given; a server built without
 * their sources (tests using `inject`) answers 404 there.
 */
export function operationsRoutes(
  app: FastifyInstance,
  options: { metrics?: Metrics | undefined; health?: HealthSource | undefined; metricsPublic?: boolean },
): void {
  const { metrics, health } = options;
  {
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics',
          description:
            'The text exposition format. Needs the bearer token when API_TOKENS is set, unless METRICS_PUBLIC=true.',
          tags: ['operations'],
          ...(options.metricsPublic && { security: [] }),
          response: { 200: { type: 'string', description: 'text/plain; version=0.0.4' } },
        },
      },
      async (_request, reply) => {
        if (!metrics) throw new ApiError('NOT_FOUND');
        return reply.type(metrics.contentType).send(await metrics.scrape());
      },
    );
  }
  {
    app.get(
      '/v1/health',
      {
        schema: {
          summary: "The database's health",
          description:
            'Dead tuples and sizes of the task tables, the oldest transaction holding back vacuum and who holds it, notification queue usage, connections, replica lag: each with its threshold and ok/warn.',
          tags: ['operations'],
          response: { 200: DbHealth, ...errorResponses({}) },
        },
      },
      () => {
        if (!health) throw new ApiError('NOT_FOUND');
        return health.report();
      },
    );
  }
}
