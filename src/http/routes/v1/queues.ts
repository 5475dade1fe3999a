import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TaskService } from '../../../domain/task-service.js';
import { presentQueue } from '../../presenters.js';
import { errorResponses, Kinds, Queue, QueueName, QueuePatch, Queues } from '../../schemas.js';

/** Queues (pause, resume, a concurrency limit across all instances) and the kinds this service knows. */
export function v1QueueRoutes(fastify: FastifyInstance, service: TaskService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/v1/queues',
    {
      schema: {
        summary: 'Every queue',
        description: 'With its counts of tasks by state and the age of its oldest queued task.',
        tags: ['queues'],
        response: { 200: Queues, ...errorResponses({}) },
      },
    },
    async () => ({
      queues: (await service.queues()).map(presentQueue),
    }),
  );

  app.get(
    '/v1/queues/:name',
    {
      schema: {
        summary: 'One queue',
        tags: ['queues'],
        params: QueueName,
        response: { 200: Queue, ...errorResponses({ 400: ['invalid_request'], 404: ['queue_not_found'] }) },
      },
    },
    async (request) => presentQueue(await service.queue(request.params.name)),
  );

  app.patch(
    '/v1/queues/:name',
    {
      schema: {
        summary: 'Pause, resume or limit a queue',
        description:
          '`concurrency` bounds the running tasks of the queue across all instances together; null lifts it.',
        tags: ['queues'],
        params: QueueName,
        body: QueuePatch,
        response: { 200: Queue, ...errorResponses({ 400: ['invalid_request'] }) },
      },
    },
    async (request) => presentQueue(await service.updateQueue(request.params.name, request.body)),
  );

  app.get(
    '/v1/kinds',
    {
      schema: {
        summary: 'Every kind this service knows',
        tags: ['kinds'],
        response: { 200: Kinds, ...errorResponses({}) },
      },
    },
    () => ({
      kinds: service
        .kinds()
        .map((k) => ({ name: k.name, source: k.source, defaults: k.defaults, input_schema: k.input_schema })),
    }),
  );
}
