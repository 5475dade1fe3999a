import type { ScheduleRow, TaskStore } from '../db/store.js';
import type { CreateBody } from '../domain/create-request.js';
import { ApiError } from '../domain/errors.js';
import type { TaskService } from '../domain/task-service.js';
import { canonicalTimezone, InvalidCronError, parseCron, parseLiveCron, type CronSchedule } from './cron.js';

/** How many upcoming ticks a schedule shows. */
export const NEXT_RUNS_SHOWN = 5;

/** A PUT body, its shape already checked by the route's schema. */
export interface ScheduleSpec {
  cron: string;
  timezone?: string | undefined;
  task: Omit<CreateBody, 'run_at' | 'idempotency_key'>;
  paused?: boolean | undefined;
}

/** A schedule as the API shows it: the stored row and its upcoming ticks. */
export type ScheduleView = ScheduleRow & { next_runs: string[] };

/** The idempotency key of a tick's task: how the task is found, and what keeps it single. */
export function tickKey(name: string, tick: Date): string {
  return `schedule:${name}:${tick.toISOString()}`;
}

/** A Date in the API's timestamp format (RFC 3339, UTC, microseconds), as the database writes them. */
export function apiTimestamp(d: Date): string {
  return d.toISOString().replace(/Z$/, '000Z');
}

/** Setting, reading and removing schedules; the ticker (ticker.ts) runs them. */
export class ScheduleService {
  constructor(
    private readonly store: TaskStore,
    private readonly tasks: TaskService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Creates or replaces the schedule `name`. Its next tick is counted from now: ticks a replaced or resumed
   * schedule would have had meanwhile are not caught up.
   */
  async put(name: string, spec: ScheduleSpec): Promise<ScheduleView> {
    const now = this.clock();
    const { timezone, cron } = this.check(spec, now);
    const paused = spec.paused ?? false;
    const row = await this.store.scheduleUpsert({
      name,
      cron: spec.cron,
      timezone,
      task: spec.task,
      paused,
      nextRunAt: paused ? null : cron.nextAfter(now),
    });
    return this.view(row);
  }

  async get(name: string): Promise<ScheduleView> {
    const row = await this.store.scheduleGet(name);
    if (!row) throw new ApiError('SCHEDULE_NOT_FOUND');
    return this.view(row);
  }

  async list(): Promise<ScheduleView[]> {
    return (await this.store.scheduleList()).map((row) => this.view(row));
  }

  /** Removes the schedule; answers with it as it was. Tasks it created are left as they are. */
  async delete(name: string): Promise<ScheduleView> {
    const row = await this.store.scheduleDelete(name);
    if (!row) throw new ApiError('SCHEDULE_NOT_FOUND');
    return { ...row, next_runs: [] };
  }

  /** The checks a schema cannot make: the cron and time zone parse, and the task is a valid create body. */
  private check(spec: ScheduleSpec, now: Date): { timezone: string; cron: CronSchedule } {
    let timezone: string;
    let cron: CronSchedule;
    try {
      timezone = canonicalTimezone(spec.timezone ?? 'UTC');
      cron = parseLiveCron(spec.cron, timezone, now);
    } catch (err) {
      if (!(err instanceof InvalidCronError)) throw err;
      throw new ApiError('INVALID_REQUEST', undefined, [{ path: `/body${err.path}`, message: err.message }]);
    }
    try {
      this.tasks.newTaskV1(spec.task);
    } catch (err) {
      // Where in the task the create's own checks found it wrong, said as a path into this body.
      if (err instanceof ApiError && Array.isArray(err.details)) {
        const details = (err.details as { path?: string; message: string }[]).map((d) => ({
          ...d,
          path: `/body/task${d.path ?? ''}`,
        }));
        throw new ApiError(err.code, err.detail, details);
      }
      throw err;
    }
    return { timezone, cron };
  }

  private view(row: ScheduleRow): ScheduleView {
    if (row.paused || row.next_run_at === null) return { ...row, next_runs: [] };
    // The stored next tick first (it may be due this instant), then the ones after it.
    const next = new Date(row.next_run_at);
    const later = parseCron(row.cron, row.timezone).nextRuns(NEXT_RUNS_SHOWN - 1, next);
    return { ...row, next_runs: [row.next_run_at, ...later.map(apiTimestamp)] };
  }
}
