import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiError } from '../../../domain/errors.js';
import type { ExternalWorkers } from '../../../domain/external-workers.js';
import { presentTaskV1 } from '../../presenters.js';
import {
  ClaimBody,
  ClaimedTasks,
  CompleteBody,
  errorResponses,
  FailBody,
  HeartbeatAnswer,
  HeartbeatBody,
  Task,
  TaskId,
} from '../../schemas.js';
import { clientGone } from './tasks.js';

const tags = ['workers'];
const leaseErrors = {
  400: ['invalid_request'],
  404: ['task_not_found'],
  409: ['lease_lost'],
} as const;

/**
 * External workers: claim tasks of the EXTERNAL_KINDS, then heartbeat, complete or fail each under its lease.
 * Registered in every process (the API's description lists them); without `workers` (a server built for its
 * document alone) nothing is external.
 */
export function v1WorkerRoutes(fastify: FastifyInstance, workers: ExternalWorkers | undefined): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const external = () => {
    if (!workers) throw new ApiError('INVALID_REQUEST', 'no kind is external in this process');
    return workers;
  };

  app.post(
    '/v1/workers/claim',
    {
      schema: {
        summary: 'Claim tasks for an external worker',
        description:
          'Leases up to `max` runnable tasks of `kinds` (each one of EXTERNAL_KINDS), best priority first, ' +
          'honouring paused queues and concurrency limits, and waits up to `wait_ms` for one when none is ' +
          'runnable. Each task comes with its lease: send its token with every heartbeat, complete and fail, ' +
          'and heartbeat before `expires_at`, or the run is lost (`worker_lost`, retried while attempts are ' +
          'left). An empty list: nothing came within the wait.',
        tags,
        body: ClaimBody,
        response: { 200: ClaimedTasks, ...errorResponses({ 400: ['invalid_request'] }) },
      },
    },
    async (request, reply) => {
      const { kinds, max, wait_ms, lease_ms, worker_id } = request.body;
      const tasks = await external().claim(
        { kinds, max: max ?? 1, waitMs: wait_ms ?? 0, leaseMs: lease_ms, workerId: worker_id },
        clientGone(reply),
      );
      return { tasks: tasks.map(({ task, lease }) => ({ ...presentTaskV1(task), lease })) };
    },
  );

  app.post(
    '/v1/tasks/:id/heartbeat',
    {
      schema: {
        summary: "Extend an external worker's lease",
        description:
          "The lease runs `lease_ms` (or EXTERNAL_LEASE_MS) from now; `progress` is stored as a handler's " +
          'would be. 409 `lease_lost`: the task was cancelled, or the lease expired: stop working on it.',
        tags,
        params: TaskId,
        body: HeartbeatBody,
        response: { 200: HeartbeatAnswer, ...errorResponses(leaseErrors) },
      },
    },
    async (request) => {
      const { token, progress, lease_ms } = request.body;
      const lease = await external().heartbeat(
        request.params.id.toLowerCase(),
        token.toLowerCase(),
        progress,
        lease_ms,
      );
      return { lease };
    },
  );

  app.post(
    '/v1/tasks/:id/complete',
    {
      schema: {
        summary: 'Complete a task held by a lease',
        description:
          'Refused with 409 `lease_lost` once the lease no longer holds the task; nothing changes then.',
        tags,
        params: TaskId,
        body: CompleteBody,
        response: { 200: Task, ...errorResponses(leaseErrors) },
      },
    },
    async (request) =>
      presentTaskV1(
        await external().complete(
          request.params.id.toLowerCase(),
          request.body.token.toLowerCase(),
          request.body.result ?? null,
        ),
      ),
  );

  app.post(
    '/v1/tasks/:id/fail',
    {
      schema: {
        summary: 'Fail a task held by a lease',
        description:
          'With `retry` true (the default) the task runs again after its backoff while it has attempts left, ' +
          'and fails otherwise; with false it fails now. 409 `lease_lost` as for complete.',
        tags,
        params: TaskId,
        body: FailBody,
        response: { 200: Task, ...errorResponses(leaseErrors) },
      },
    },
    async (request) =>
      presentTaskV1(
        await external().fail(
          request.params.id.toLowerCase(),
          request.body.token.toLowerCase(),
          request.body.error.message,
          request.body.retry ?? true,
        ),
      ),
  );
}
