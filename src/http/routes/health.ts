import type { FastifyInstance } from 'fastify';
import type { TaskService } from '../../domain/task-service.js';
import { Health, NotReady, Ready } from '../schemas.js';

const tags = ['health'];

/**
 * For orchestrators. /healthz: the process is alive and serving HTTP. /readyz: it should get traffic — it is not
 * draining for shutdown, the database answers, and its engine runs (see TaskService.checkReady).
 */
export function healthRoutes(app: FastifyInstance, service: TaskService): void {
  app.get(
    '/healthz',
    { schema: { summary: 'Liveness', tags, security: [], response: { 200: Health } } },
    () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: route traffic by it',
        tags,
        security: [],
        response: { 200: Ready, 503: NotReady },
      },
    },
    async () => {
      await service.checkReady();
      return { status: 'ready' };
    },
  );
}
