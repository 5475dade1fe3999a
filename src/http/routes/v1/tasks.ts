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
  errorResponses,
  ListQuery,
  Task,
  TaskBatch,
  TaskId,
  TaskList,
  WaitQuery,
} from '../../schemas.js';

const tags = ['tasks'];
const idErrors = { 400: ['invalid_request'], 404: ['task_not_found'] } as const;

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
        description:
          'With an idempotency key (the `Idempotency-Key` header or `idempotency_key`), a repeat of the same ' +
          'body answers 200 with the original task and `Idempotent-Replayed: true`; another body under the ' +
          'same key is refused (422). `?wait=S` answers once the task is terminal or S seconds have passed.',
        tags,
        body: CreateBody,
        querystring: WaitQuery,
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 255 } },
        },
        response: {
          200: { ...Task, description: 'A replay of an earlier create with the same key and body.' },
          201: { ...Task, description: 'Created; `Location` is its URL.' },
          ...errorResponses({
            400: ['invalid_request', 'unknown_kind', 'invalid_input'],
            409: ['idempotency_key_in_use'],
            413: ['payload_too_large'],
            422: ['idempotency_key_reused'],
          }),
        },
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
        description: 'The answer lists the tasks in the order of the request.',
        tags,
        body: BatchBody,
        response: {
          201: TaskBatch,
          ...errorResponses({
            400: ['invalid_request', 'unknown_kind', 'invalid_input'],
            413: ['payload_too_large'],
          }),
        },
      },
    },
    async (request, reply) => {
      const tasks = await service.createManyV1(request.body.tasks, { requestId: request.id, batch: true });
      return reply.code(201).send({ tasks: tasks.map(presentTaskV1) });
    },
  );

  app.get(
    '/v1/tasks/:id',
    {
      schema: {
        summary: 'Read a task',
        description:
          '`?wait=S` long-polls: the answer comes once the task is terminal or S seconds have passed.',
        tags,
        params: TaskId,
        querystring: WaitQuery,
        response: { 200: Task, ...errorResponses(idErrors) },
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
        description:
          '`state` may be repeated. Pass `next_cursor` of one page as `cursor` to get the next; it is null on ' +
          'the last page.',
        tags,
        querystring: ListQuery,
        response: { 200: TaskList, ...errorResponses({ 400: ['invalid_request'] }) },
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
    {
      schema: {
        summary: 'The runs of a task',
        tags,
        params: TaskId,
        response: { 200: Attempts, ...errorResponses(idErrors) },
      },
    },
    async (request) => ({ attempts: (await service.attempts(request.params.id)).map(presentAttempt) }),
  );

  app.post(
    '/v1/tasks/:id/cancel',
    {
      schema: {
        summary: 'Cancel a task that has not ended',
        description:
          'A queued or scheduled task is cancelled at once; a running one is cancelled, its handler is told ' +
          'to stop, and a result it sends late is discarded.',
        tags,
        params: TaskId,
        response: { 200: Task, ...errorResponses({ ...idErrors, 409: ['task_finished'] }) },
      },
    },
    async (request) => presentTaskV1(await service.cancel(request.params.id)),
  );

  app.post(
    '/v1/tasks/:id/retry',
    {
      schema: {
        summary: 'Queue a failed or cancelled task again',
        description: '`attempt` keeps counting; the task may run `max_attempts` more times.',
        tags,
        params: TaskId,
        response: { 200: Task, ...errorResponses({ ...idErrors, 409: ['task_not_retryable'] }) },
      },
    },
    async (request) => presentTaskV1(await service.retry(request.params.id)),
  );
}
