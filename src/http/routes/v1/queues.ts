import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TaskService } from '../../../domain/task-service.js';
import { presentQueue } from '../../presenters.js';
import { ErrorBody, Kinds, Queue, QueueName, QueuePatch, Queues } from '../../schemas.js';

/** Queues (pause, resume, a concurrency limit across all instances) and the kinds this service knows. */
export function v1QueueRoutes(fastify: FastifyInstance, service: TaskService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/v1/queues',
    { schema: { summary: 'Every queue', response: { 200: Queues, 503: ErrorBody } } },
    async () => ({
      queues: (await service.queues()).map(presentQueue),
    }),
  );

  app.get(
    '/v1/queues/:name',
    { schema: { summary: 'One queue', params: QueueName, response: { 200: Queue, 404: ErrorBody } } },
    async (request) => presentQueue(await service.queue(request.params.name)),
  );

  app.patch(
    '/v1/queues/:name',
    {
      schema: {
        summary: 'Pause, resume or limit a queue',
        params: QueueName,
        body: QueuePatch,
        response: { 200: Queue, 400: ErrorBody },
      },
    },
    async (request) => presentQueue(await service.updateQueue(request.params.name, request.body)),
  );

  app.get(
    '/v1/kinds',
    { schema: { summary: 'Every kind this service knows', response: { 200: Kinds } } },
    () => ({
      kinds: service
        .kinds()
        .map((k) => ({ name: k.name, source: k.source, defaults: k.defaults, input_schema: k.input_schema })),
    }),
  );
}
