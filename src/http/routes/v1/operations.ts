import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { STATS_WINDOW, type Operations } from '../../../domain/operations.js';
import type { TaskService } from '../../../domain/task-service.js';
import { presentWorker } from '../../presenters.js';
import {
  BULK_LIMIT,
  BulkBody,
  BulkResult,
  errorResponses,
  Stats,
  StatsQuery,
  Workers,
} from '../../schemas.js';

/** What an operator watches and does across many tasks: throughput and latency, the workers, bulk actions. */
export function v1OperationsRoutes(
  fastify: FastifyInstance,
  service: TaskService,
  operations: () => Operations,
): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/v1/stats',
    {
      schema: {
        summary: 'Throughput and latency of recently finished tasks',
        description:
          'Tasks that finished within the last `window` seconds, counted by final state, with the median and ' +
          '95th percentile of their pickup latency (ready to started) and run time, over the whole window and ' +
          'per bucket (a sixtieth of the window, at least a minute).',
        tags: ['operations'],
        querystring: StatsQuery,
        response: { 200: Stats, ...errorResponses({ 400: ['invalid_request'] }) },
      },
    },
    async (request) => operations().stats(request.query.window ?? STATS_WINDOW.default),
  );

  app.get(
    '/v1/workers',
    {
      schema: {
        summary: 'The worker processes sharing the database',
        description: 'Every registered instance, the tasks it runs now, and which one leads the maintenance.',
        tags: ['operations'],
        response: { 200: Workers, ...errorResponses({}) },
      },
    },
    async () => ({ workers: (await operations().workers()).map(presentWorker) }),
  );

  app.post(
    '/v1/tasks/bulk',
    {
      schema: {
        summary: 'Retry or cancel every task matching a filter',
        description:
          `At most \`limit\` (≤ ${BULK_LIMIT}) tasks, oldest first, in one statement: a retry queues failed ` +
          'and cancelled tasks again, a cancel ends the unfinished ones (running handlers are told to stop). ' +
          'Tasks being changed at that very moment are left out. `dry_run` only counts them.',
        tags: ['tasks'],
        body: BulkBody,
        response: { 200: BulkResult, ...errorResponses({ 400: ['invalid_request'] }) },
      },
    },
    async (request) => {
      const { action, filter = {}, limit = BULK_LIMIT, dry_run = false } = request.body;
      const count = await service.bulk(
        action,
        { states: filter.state, kind: filter.kind, queue: filter.queue },
        limit,
        dry_run,
      );
      return { action, dry_run, count };
    },
  );
}
