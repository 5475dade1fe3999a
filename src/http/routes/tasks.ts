import type { FastifyInstance } from 'fastify';
import type { TaskService } from '../../domain/task-service.js';
import { presentCreated, presentTask } from '../presenters.js';

/** The original API. Its shapes are a contract with existing clients: never change them. */
export function taskRoutes(app: FastifyInstance, service: TaskService): void {
  app.post('/task/create', async (request, reply) => {
    const body = request.body as { task?: unknown } | null | undefined;
    const task = typeof body === 'object' && body !== null && !Array.isArray(body) ? body.task : undefined;
    const id = await service.create(task, { requestId: request.id });
    return reply.code(201).send(presentCreated(id));
  });

  app.get('/task/check-result', async (request) => {
    const { task_id } = request.query as { task_id?: unknown };
    return presentTask(await service.get(task_id));
  });
}
