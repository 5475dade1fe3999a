import { Cron } from 'croner';

/**
 * Cron expressions, read by croner: 5 fields (minute precision) or 6 (a leading seconds field), in an IANA time
 * zone. croner works in wall-clock time of that zone: a fixed-time tick that falls into a DST gap runs at the first
 * valid time after it, and one whose time occurs twice runs once; an interval (`*\/15 * * * *`) follows real time.
 */
export interface CronSchedule {
  /** The first tick strictly after `after`, or null when the expression has none left. */
  nextAfter(after: Date): Date | null;
  /** Up to `n` ticks strictly after `after`. */
  nextRuns(n: number, after: Date): Date[];
  /** The latest tick at or before `at`, or null. */
  latestAtOrBefore(at: Date): Date | null;
}

/** Why an expression or a time zone was refused, said to the client as `details`. */
export class InvalidCronError extends Error {
  constructor(
    readonly path: '/cron' | '/timezone',
    message: string,
  ) {
    super(message);
    this.name = 'InvalidCronError';
  }
}

/** The canonical name of an IANA time zone (`utc` → `UTC`); throws InvalidCronError for one there is not. */
export function canonicalTimezone(timezone: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    throw new InvalidCronError(
      '/timezone',
      `"${timezone}" is not an IANA time zone (e.g. UTC, Europe/Berlin)`,
    );
  }
}

/** Parses `expression` in `timezone` (already canonical); throws InvalidCronError saying what is wrong. */
export function parseCron(expression: string, timezone: string): CronSchedule {
  // Checked here rather than by croner, whose message also offers a 7th field (years) that taskd does not take.
  const fields = expression.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw new InvalidCronError(
      '/cron',
      `needs 5 fields (minute hour day-of-month month day-of-week), or 6 with a leading seconds field; got ${fields}`,
    );
  }
  let cron: Cron;
  try {
    // No callback: croner only computes times, it starts no timer of its own.
    cron = new Cron(expression, { timezone, mode: '5-or-6-parts' });
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^Cron\w*:\s*/, '') : String(err);
    throw new InvalidCronError('/cron', reason);
  }
  return {
    nextAfter: (after) => cron.nextRun(after),
    nextRuns: (n, after) => cron.nextRuns(n, after),
    // previousRuns looks strictly before its reference, but counts a tick earlier in the reference's own second:
    // one millisecond on, the reference itself is a candidate.
    latestAtOrBefore: (at) => cron.previousRuns(1, new Date(at.getTime() + 1))[0] ?? null,
  };
}

/** Parses and checks that the expression ticks at all after `now` (`0 0 30 2 *` never does). */
export function parseLiveCron(expression: string, timezone: string, now: Date): CronSchedule {
  const cron = parseCron(expression, timezone);
  if (cron.nextAfter(now) === null) throw new InvalidCronError('/cron', 'the expression never fires');
  return cron;
}

/** What a due schedule does now, by the missed-ticks policy (docs/schedules.md). */
export interface TickPlan {
  /** The tick whose task to create. */
  tick: Date;
  /** Whether ticks were passed over without a task (only when the schedule was more than the grace late). */
  skipped: boolean;
  /** The schedule's next tick after this one; null: none left. */
  next: Date | null;
}

/**
 * The missed-ticks policy. A tick at most `graceMs` late just runs late: each such tick creates its task, in order.
 * When the schedule's next tick is later than that (every instance was down, or stopped), only the latest tick due
 * runs, once, and every tick before it is skipped, as most cron services do.
 */
export function planTick(cron: CronSchedule, due: Date, now: Date, graceMs: number): TickPlan {
  const late = now.getTime() - due.getTime();
  const latest = late > graceMs ? cron.latestAtOrBefore(now) : null;
  const tick = latest !== null && latest.getTime() > due.getTime() ? latest : due;
  return { tick, skipped: tick !== due, next: cron.nextAfter(tick) };
}
