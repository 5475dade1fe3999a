import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { TaskService } from '../../domain/task-service.js';
import { presentCreated, presentTask } from '../presenters.js';
import { LegacyCreateBody, LegacyCreated, LegacyQuery, LegacyTask, legacyErrors } from '../schemas.js';

/**
 * The original API's schemas describe it in the OpenAPI document and nothing else. Its validation is its own
 * (any bad request gets exactly "Invalid task data" or "Invalid task_id: expected a UUID"), and its answers are
 * serialized as they always were: a schema compiled by Fastify would coerce, strip or reorder, and its shapes
 * are a contract.
 */
const describedOnly: Pick<RouteShorthandOptions, 'validatorCompiler' | 'serializerCompiler'> = {
  validatorCompiler: () => () => true,
  serializerCompiler: () => (data) => JSON.stringify(data),
};

const tags = ['original API'];

/** The original API. Its shapes are a contract with existing clients: never change them. */
export function taskRoutes(app: FastifyInstance, service: TaskService): void {
  app.post(
    '/task/create',
    {
      ...describedOnly,
      schema: {
        summary: 'Create a task (original API)',
        description:
          'The task runs with the DEFAULT_HANDLER kind. Every answer carries `X-Request-Id`; errors are ' +
          '`{"error"}` alone.',
        tags,
        body: LegacyCreateBody,
        response: {
          201: LegacyCreated,
          400: legacyErrors.invalidTaskData,
          401: legacyErrors.unauthorized,
          413: legacyErrors.invalidTaskData,
          429: legacyErrors.rateLimited,
          503: legacyErrors.unavailable,
        },
      },
    },
    async (request, reply) => {
      const body = request.body as { task?: unknown } | null | undefined;
      const task = typeof body === 'object' && body !== null && !Array.isArray(body) ? body.task : undefined;
      const id = await service.create(task, { requestId: request.id });
      return reply.code(201).send(presentCreated(id));
    },
  );

  app.get(
    '/task/check-result',
    {
      ...describedOnly,
      schema: {
        summary: 'Read a task (original API)',
        description:
          'Answers for every task, v1 ones too. `Status`: queued, scheduled, running → `in progress`; ' +
          'completed → `completed`; failed, cancelled → `failed`.',
        tags,
        querystring: LegacyQuery,
        response: {
          200: LegacyTask,
          400: legacyErrors.invalidTaskId,
          401: legacyErrors.unauthorized,
          404: legacyErrors.taskNotFound,
          429: legacyErrors.rateLimited,
          503: legacyErrors.unavailable,
        },
      },
    },
    async (request) => {
      const { task_id } = request.query as { task_id?: unknown };
      return presentTask(await service.get(task_id));
    },
  );
}
