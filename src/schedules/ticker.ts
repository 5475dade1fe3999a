import { CHANNELS, type DueSchedule, type TaskStore } from '../db/store.js';
import type { CreateBody } from '../domain/create-request.js';
import type { TaskService } from '../domain/task-service.js';
import type { EventBus } from '../events/bus.js';
import { Backoff } from '../lifecycle/backoff.js';
import type { Notifier } from '../notify/notifier.js';
import { parseCron, planTick } from './cron.js';
import { tickKey } from './schedule-service.js';

/**
 * The longest the ticker sleeps without looking at the schedules again. It is woken when a schedule changes
 * (NOTIFY) and when its notification connection is made anew; this bounds how late a tick can be if a
 * notification was lost all the same.
 */
const MAX_SLEEP_MS = 60_000;
/** Due schedules read per statement. */
const DUE_BATCH = 100;
/** Passes over the due schedules before the ticker sleeps at least once (a catch-up burst is bounded). */
const MAX_PASSES = 50;

export interface TickerOptions {
  store: TaskStore;
  tasks: TaskService;
  notifier: Notifier;
  bus: EventBus;
  /** A tick at most this late still runs; later, only the latest tick due runs (cron.ts planTick). */
  misfireGraceMs: number;
}

/**
 * Runs the schedules: sleeps until the next tick of any schedule is due (by the database's clock), creates that
 * tick's task, and sleeps again; a changed schedule wakes it. Every instance runs one, and they may all wake for
 * the same tick: the statement that creates the task lets one of them through (store.scheduleFire), so each tick
 * creates one task however many instances run.
 */
export class ScheduleTicker {
  private readonly stopped = new AbortController();
  private loop: Promise<void> | undefined;
  private woken = false;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly options: TickerOptions) {}

  start(): void {
    if (this.loop || this.stopped.signal.aborted) return;
    const { notifier } = this.options;
    this.unsubscribe.push(
      notifier.subscribe(CHANNELS.schedulesChanged, () => this.poke()),
      notifier.onConnect(() => this.poke()),
    );
    this.loop = this.run();
  }

  /** Stops ticking; resolves once a tick in progress has committed or failed. */
  async stop(): Promise<void> {
    this.stopped.abort();
    this.unsubscribe.splice(0).forEach((off) => off());
    this.poke();
    await this.loop;
  }

  private poke(): void {
    this.woken = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    const { store, bus } = this.options;
    const signal = this.stopped.signal;
    const backoff = new Backoff(250, 10_000);
    while (!signal.aborted) {
      let sleepMs: number;
      try {
        // Woken from here on: a change that lands while the schedules are being read is looked at again.
        this.woken = false;
        const failed = await this.fireDue(signal);
        if (failed) {
          sleepMs = backoff.nextDelay();
        } else {
          backoff.reset();
          const inMs = await store.scheduleNextDueInMs({ signal });
          sleepMs = inMs === null ? MAX_SLEEP_MS : Math.min(Math.max(Math.ceil(inMs), 0), MAX_SLEEP_MS);
        }
      } catch (err) {
        if (signal.aborted) break;
        bus.emit('schedule.failed', { err });
        sleepMs = backoff.nextDelay();
      }
      await this.sleep(sleepMs);
    }
  }

  /** Sleeps `ms`, or less when poked (or already poked since the last look). */
  private sleep(ms: number): Promise<void> {
    if (this.woken || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  /** Runs every tick that is due, until none is; true when a schedule could not be run. */
  private async fireDue(signal: AbortSignal): Promise<boolean> {
    for (let pass = 0; pass < MAX_PASSES && !signal.aborted; pass++) {
      const due = await this.options.store.scheduleDue(DUE_BATCH, { signal });
      if (due.length === 0) return false;
      let failed = false;
      for (const schedule of due) {
        if (signal.aborted) break;
        try {
          await this.fire(schedule, signal);
        } catch (err) {
          if (signal.aborted) break;
          failed = true;
          this.options.bus.emit('schedule.failed', { name: schedule.name, err });
        }
      }
      // A schedule that fails would be due again at once: back off rather than spin on it.
      if (failed) return true;
    }
    return false;
  }

  /** Creates the task of one due schedule's tick, unless another instance has just done so. */
  private async fire(schedule: DueSchedule, signal: AbortSignal): Promise<void> {
    const { store, tasks, bus, misfireGraceMs } = this.options;
    const due = new Date(schedule.next_run_at);
    const plan = planTick(
      parseCron(schedule.cron, schedule.timezone),
      due,
      new Date(schedule.now),
      misfireGraceMs,
    );
    const task = tasks.newTaskV1(schedule.task as CreateBody, {
      idempotencyKey: tickKey(schedule.name, plan.tick),
      anyKind: true,
    });
    const { advanced, task: created } = await store.scheduleFire(
      { name: schedule.name, expected: schedule.next_run_at, tick: plan.tick, next: plan.next, task },
      { signal },
    );
    // Another instance ran this tick first, or the schedule was changed or removed meanwhile.
    if (!advanced) return;
    if (plan.skipped) {
      bus.emit('schedule.missed', {
        name: schedule.name,
        from: due.toISOString(),
        to: plan.tick.toISOString(),
      });
    }
    if (created)
      bus.emit('task.created', { taskId: created.id, kind: created.kind, queue: created.queue, api: 'v1' });
    bus.emit('schedule.fired', {
      name: schedule.name,
      tick: plan.tick.toISOString(),
      taskId: created?.id ?? null,
      next: plan.next?.toISOString() ?? null,
    });
  }
}
