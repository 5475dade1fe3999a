import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TaskService } from '../../../domain/task-service.js';
import { presentDelivery } from '../../presenters.js';
import { Deliveries, errorResponses, TaskId } from '../../schemas.js';

/** `GET /v1/tasks/{id}/deliveries`: the completion webhooks of a task and each of their attempts. */
export function v1DeliveryRoutes(fastify: FastifyInstance, service: TaskService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/v1/tasks/:id/deliveries',
    {
      schema: {
        summary: 'The completion webhooks of a task',
        description:
          'One delivery per terminal state the task reached with a `callback_url` (a retried task can reach ' +
          'more than one), oldest first, each with every attempt it had. A `pending` delivery is tried again at ' +
          '`next_attempt_at`.',
        tags: ['tasks'],
        params: TaskId,
        response: {
          200: Deliveries,
          ...errorResponses({ 400: ['invalid_request'], 404: ['task_not_found'] }),
        },
      },
    },
    async (request) => ({
      deliveries: (await service.deliveries(request.params.id.toLowerCase())).map(presentDelivery),
    }),
  );
}
