import type { FastifyInstance } from 'fastify';
import type { TaskService } from '../../domain/task-service.js';

/**
 * For orchestrators. /healthz: the process is alive and serving HTTP. /readyz: it should get traffic — it is not
 * draining for shutdown, the database answers, and its engine runs (see TaskService.checkReady).
 */
export function healthRoutes(app: FastifyInstance, service: TaskService): void {
  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    await service.checkReady();
    return { status: 'ready' };
  });
}
