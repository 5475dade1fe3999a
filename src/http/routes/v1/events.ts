import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TaskRecord } from '../../../db/store.js';
import { ApiError } from '../../../domain/errors.js';
import { isTerminal, type TaskWaiters } from '../../../domain/task-waiters.js';
import { openEventStream } from '../../event-stream.js';
import { presentTaskV1 } from '../../presenters.js';
import { ErrorBody, TaskId } from '../../schemas.js';

/**
 * `GET /v1/tasks/{id}/events`: Server-Sent Events. An `event: task` with the whole task (as `GET /v1/tasks/{id}`
 * shows it) at once, and again after every change of it that this process hears of (state, attempt, progress);
 * the stream ends after a terminal state, or when the process shuts down. Woken by the same notifications as
 * the long-polls (TaskWaiters), never by reading the database on a timer.
 */
export function v1EventRoutes(fastify: FastifyInstance, waiters: TaskWaiters): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/v1/tasks/:id/events',
    {
      schema: {
        summary: 'Follow a task as Server-Sent Events until it ends',
        params: TaskId,
        response: {
          200: { description: 'text/event-stream of `event: task` messages', type: 'string' },
          400: ErrorBody,
          404: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const id = request.params.id.toLowerCase();
      let sent: string | undefined;

      // Watch before the first read, so that no change can fall between the two.
      let queued: TaskRecord | undefined;
      let send: (task: TaskRecord) => void = (task) => void (queued = task);
      let end: () => void = () => {};
      const unwatch = waiters.watch(id, { onTask: (task) => send(task), onClose: () => end() });
      let first: TaskRecord | undefined;
      try {
        first = await waiters.read(id);
        // A change was heard during the read: which of the two reads is newer is unknown, a third one is not.
        if (first && queued) first = (await waiters.read(id)) ?? first;
      } catch (err) {
        unwatch();
        throw err;
      }
      if (!first) {
        unwatch();
        throw new ApiError('TASK_NOT_FOUND');
      }

      // From here on the answer is ours to write: headers first, then one message per change.
      const stream = openEventStream(request, reply, unwatch);
      end = stream.end;
      send = (task) => {
        const data = JSON.stringify(presentTaskV1(task));
        if (data !== sent) {
          sent = data;
          stream.write(`event: task\ndata: ${data}\n\n`);
        }
        if (isTerminal(task)) stream.end();
      };
      send(first);
      // A watch made as the process began shutting down answers at once.
      if (waiters.isClosed) end();
    },
  );
}
