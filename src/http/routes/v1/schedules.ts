import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ScheduleService } from '../../../schedules/schedule-service.js';
import { presentSchedule } from '../../presenters.js';
import { errorResponses, Schedule, ScheduleName, SchedulePut, Schedules } from '../../schemas.js';

const tags = ['schedules'];
const nameErrors = { 400: ['invalid_request'], 404: ['schedule_not_found'] } as const;

/** Cron schedules: each tick creates one task, across every instance. */
export function v1ScheduleRoutes(fastify: FastifyInstance, schedules: ScheduleService): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/v1/schedules',
    {
      schema: {
        summary: 'Every schedule',
        description: 'By name, each with its next ticks.',
        tags,
        response: { 200: Schedules, ...errorResponses({}) },
      },
    },
    async () => ({ schedules: (await schedules.list()).map(presentSchedule) }),
  );

  app.get(
    '/v1/schedules/:name',
    {
      schema: {
        summary: 'One schedule',
        tags,
        params: ScheduleName,
        response: { 200: Schedule, ...errorResponses(nameErrors) },
      },
    },
    async (request) => presentSchedule(await schedules.get(request.params.name)),
  );

  app.put(
    '/v1/schedules/:name',
    {
      schema: {
        summary: 'Create or replace a schedule',
        description:
          'Each tick of `cron` (read in `timezone`) creates one task from `task`, whose idempotency key is ' +
          '`schedule:<name>:<tick>`. The next tick is counted from now; `paused: true` stops the ticks and ' +
          '`paused: false` resumes them, without catching up.',
        tags,
        params: ScheduleName,
        body: SchedulePut,
        response: { 200: Schedule, ...errorResponses({ 400: ['invalid_request', 'unknown_kind'] }) },
      },
    },
    async (request) => presentSchedule(await schedules.put(request.params.name, request.body)),
  );

  app.delete(
    '/v1/schedules/:name',
    {
      schema: {
        summary: 'Remove a schedule',
        description: 'Answers with the schedule as it was. The tasks it created are left as they are.',
        tags,
        params: ScheduleName,
        response: { 200: Schedule, ...errorResponses(nameErrors) },
      },
    },
    async (request) => presentSchedule(await schedules.delete(request.params.name)),
  );
}
