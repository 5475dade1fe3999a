import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TaskRecord } from '../../../db/store.js';
import { ApiError } from '../../../domain/errors.js';
import type { TaskService } from '../../../domain/task-service.js';
import type { TaskWaiters } from '../../../domain/task-waiters.js';
import { presentAttempt, presentTaskV1 } from '../../presenters.js';
import {
  Attempts,
  BatchBody,
  CreateBody,
  ErrorBody,
  ListQuery,
  Task,
  TaskBatch,
  TaskId,
  TaskList,
  WaitQuery,
} from '../../schemas.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 422: ErrorBody, 503: ErrorBody };

/** Aborts when the client has gone away before its answer was sent: a long-poll then frees its waiter. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  return gone.signal;
}

/**
 * The tasks of v1: create (one or a batch), read, list, history, cancel, retry. With `waiters`, a create or read
 * with `?wait=S` answers once the task is terminal or S seconds have passed; without, it answers at once.
 */
export function v1TaskRoutes(fastify: FastifyInstance, service: TaskService, waiters?: TaskWaiters): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  const awaitEnd = async (task: TaskRecord, waitS: number | undefined, reply: FastifyReply) => {
    if (!waiters || !waitS || waitS <= 0) return task;
    // Deleted meanwhile (retention): the task as it was is still the best answer to this request.
    return (await waiters.waitForEnd(task.id, waitS * 1000, clientGone(reply))) ?? task;
  };

  app.post(
    '/v1/tasks',
    {
      schema: {
        summary: 'Create a task',
        body: CreateBody,
        querystring: WaitQuery,
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255 } },
        },
        response: { 200: Task, 201: Task, ...errors },
      },
    },
    async (request, reply) => {
      const idempotencyKey = request.headers['idempotency-key'];
      const { task, replayed } = await service.createV1(request.body, {
        requestId: request.id,
        ...(typeof idempotencyKey === 'string' && { idempotencyKey }),
      });
      void reply.header('location', `/v1/tasks/${task.id}`);
      if (replayed) void reply.header('idempotent-replayed', 'true');
      const answer = await awaitEnd(task, request.query.wait, reply);
      return reply.code(replayed ? 200 : 201).send(presentTaskV1(answer));
    },
  );

  app.post(
    '/v1/tasks/batch',
    {
      schema: {
        summary: 'Create up to 1,000 tasks, all or none',
        body: BatchBody,
        response: { 201: TaskBatch, ...errors },
      },
    },
    async (request, reply) => {
      const tasks = await service.createManyV1(request.body.tasks, { requestId: request.id });
      return reply.code(201).send({ tasks: tasks.map(presentTaskV1) });
    },
  );

  app.get(
    '/v1/tasks/:id',
    {
      schema: {
        summary: 'Read a task',
        params: TaskId,
        querystring: WaitQuery,
        response: { 200: Task, ...errors },
      },
    },
    async (request, reply) => {
      const { wait } = request.query;
      if (!waiters || !wait) return presentTaskV1(await service.getV1(request.params.id));
      const task = await waiters.waitForEnd(request.params.id.toLowerCase(), wait * 1000, clientGone(reply));
      if (!task) throw new ApiError('TASK_NOT_FOUND');
      return presentTaskV1(task);
    },
  );

  app.get(
    '/v1/tasks',
    {
      schema: {
        summary: 'List tasks, newest first',
        querystring: ListQuery,
        response: { 200: TaskList, ...errors },
      },
    },
    async (request) => {
      const { state, kind, queue, limit, cursor } = request.query;
      const page = await service.list({ states: state, kind, queue, limit: limit ?? 50, cursor });
      return { tasks: page.tasks.map(presentTaskV1), next_cursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/tasks/:id/attempts',
    { schema: { summary: 'The runs of a task', params: TaskId, response: { 200: Attempts, ...errors } } },
    async (request) => ({ attempts: (await service.attempts(request.params.id)).map(presentAttempt) }),
  );

  app.post(
    '/v1/tasks/:id/cancel',
    {
      schema: {
        summary: 'Cancel a task that has not ended',
        params: TaskId,
        response: { 200: Task, ...errors },
      },
    },
    async (request) => presentTaskV1(await service.cancel(request.params.id)),
  );

  app.post(
    '/v1/tasks/:id/retry',
    {
      schema: {
        summary: 'Queue a failed or cancelled task again',
        params: TaskId,
        response: { 200: Task, ...errors },
      },
    },
    async (request) => presentTaskV1(await service.retry(request.params.id)),
  );
}
