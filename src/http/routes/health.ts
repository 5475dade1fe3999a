import type { FastifyInstance } from 'fastify';
import type { TaskStore } from '../../db/store.js';
import { ApiError } from '../../domain/errors.js';
import type { TaskService } from '../../domain/task-service.js';

/**
 * For orchestrators. /healthz: the process is alive and serving HTTP. /readyz: it should get traffic — the
 * database answers and the process is not draining for shutdown.
 */
export function healthRoutes(app: FastifyInstance, store: TaskStore, service: TaskService): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async () => {
    if (!service.isAccepting) throw new ApiError('SHUTTING_DOWN');
    try {
      await store.ping();
    } catch {
      throw new ApiError('DATABASE_UNAVAILABLE');
    }
    return { status: 'ready' };
  });
}
