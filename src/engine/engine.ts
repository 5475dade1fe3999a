import type { TaskStore } from '../db/store.js';
import { CHANNELS, leftTasksQueued, TASK_CREATED_CHANNEL } from '../db/store.js';
import { decide, FAILURE_MESSAGES, type OutcomeLimits } from '../domain/outcome.js';
import type { ClaimedTask, Outcome } from '../domain/task.js';
import type { EventBus } from '../events/bus.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { pause } from '../lifecycle/backoff.js';
import { Periodic } from '../lifecycle/periodic.js';
import { supervise } from '../lifecycle/supervisor.js';
import type { Logger } from '../logger.js';
import type { Notifier } from '../notify/notifier.js';
import { TaskAbort } from './abort.js';
import { Claimer } from './claimer.js';
import { Execution, type ExecutionEvents } from './executor.js';
import type { Heartbeat } from './heartbeat.js';
import { normaliseProgress, ProgressWriter } from './progress.js';
import { Settler } from './settler.js';
import { Slots } from './slots.js';

export interface EngineOptions {
  store: TaskStore;
  handlers: HandlerRegistry;
  bus: EventBus;
  heartbeat: Heartbeat;
  notifier: Notifier;
  /** Handlers' `ctx.log` derives from it. */
  log: Logger;
  /** Tasks run at once by this process. */
  concurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  limits: OutcomeLimits;
  /** Largest number of tasks taken by one claim statement. */
  maxClaimBatch?: number;
  /** Handlers' progress is written at most once per run per interval (PROGRESS_INTERVAL_MS; default 1000). */
  progressIntervalMs?: number;
  /** The claim loop keeps crashing: the process must stop. */
  onFatal: (err: unknown) => void;
  /** How often the runs are checked against the database, for cancels whose notification was missed. */
  cancelCheckMs?: number;
}

/**
 * A run as the engine keeps it: the execution, the claim it runs under, and how far its ending has got. The slot is
 * given back once both the outcome is stored (`stored`) and the handler has returned (`handlerDone`).
 */
class Run extends Execution {
  readonly startedAt = performance.now();
  /** A refused progress report was logged (once per run is enough). */
  progressRefused = false;
  /** While the handler goes on after its run was ended: when it ended, and the timer that reports it stuck. */
  endedAt = 0;
  stuckTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    task: ClaimedTask,
    readonly owner: string,
    events: ExecutionEvents<Run>,
    log: Logger,
  ) {
    super(task, events, log);
  }
}

/** How long a handler may take to return after its signal aborted before it counts as stuck. */
export const STUCK_AFTER_MS = 1000;

/**
 * How often, by default, the engine asks the database which of its runs are no longer running under its claim: a
 * cancel whose notification was lost (the listener was reconnecting) still reaches the handler within this.
 */
export const CANCEL_CHECK_MS = 3000;

/** How long shutdown waits for its last statement (failing what still runs) before leaving it to the lease. */
const DEREGISTER_DEADLINE_MS = 5000;

/**
 * Runs claimed tasks: the claim loop (supervised) feeds the executor, whose outcomes go through the outcome policy
 * to the settler. Lifecycle: `start()`, then `stop(graceMs)` in two phases — stop claiming and let running tasks
 * finish for up to `graceMs`, then fail the rest in one statement and abort their handlers. Every wait of the stop
 * is bounded. `start` and `stop` twice, or `stop` before `start`, are fine.
 */
export class Engine {
  private readonly runs = new Map<string, Run>();
  private readonly stuck = new Set<string>();
  private readonly slots: Slots;
  private readonly claimer: Claimer;
  private readonly settler: Settler;
  private readonly progress: ProgressWriter;
  private readonly claiming = new AbortController();
  private readonly graceOver = new AbortController();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly cancelCheck: Periodic;
  /** What every run reports to: one object for all of them. */
  private readonly runEvents: ExecutionEvents<Run> = {
    outcome: (run, outcome) => this.onOutcome(run, outcome),
    handlerReturned: (run) => this.onHandlerReturned(run),
    progress: (run, percent, message) => this.onProgress(run, percent, message),
  };
  private endedWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private claimLoopRunning = false;
  /** Reservations of slots for creates whose insert has not been handed back yet (reserveForCreates). */
  private reservations = 0;
  private reservationsDone: (() => void)[] = [];
  private gaveUp = false;
  /** Set once shutdown has failed the remaining tasks: later outcomes would be fenced off anyway. */
  private discardOutcomes = false;

  constructor(private readonly options: EngineOptions) {
    this.slots = new Slots(options.concurrency);
    this.settler = new Settler(options.store, options.bus);
    this.progress = new ProgressWriter({
      store: options.store,
      bus: options.bus,
      intervalMs: options.progressIntervalMs ?? 1000,
    });
    this.claimer = new Claimer({
      store: options.store,
      slots: this.slots,
      workerId: () => options.heartbeat.workerId,
      pollIntervalMs: options.pollIntervalMs,
      maxBatch: options.maxClaimBatch ?? 500,
      onClaimed: (tasks, owner) => this.onClaimed(tasks, owner),
      onClaimFailed: (err) => options.log.warn({ err }, 'claiming tasks failed; retrying'),
    });
    this.cancelCheck = new Periodic(
      options.cancelCheckMs ?? CANCEL_CHECK_MS,
      (signal) => this.abortEndedRuns(signal),
      (err) => options.log.warn({ err }, 'checking running tasks for cancels failed; retrying'),
    );
  }

  /** What readiness reports: the claim loop runs (or the engine is stopping, which readiness reports itself). */
  get healthy(): boolean {
    return !this.gaveUp && (this.claimLoopRunning || this.stopping !== undefined);
  }

  /** Runs whose outcome is not stored yet, and handlers still running after their run was ended. */
  get load(): { running: number; stuck: number; free: number } {
    return { running: this.runs.size, stuck: this.stuck.size, free: this.slots.free };
  }

  start(): void {
    if (this.loop || this.stopping) return;
    const { bus, notifier, heartbeat } = this.options;
    this.unsubscribe.push(
      // Tasks created that all started as they were (or wait for their time) leave nothing to claim.
      notifier.subscribe(TASK_CREATED_CHANNEL, (payload) => {
        if (leftTasksQueued(payload)) this.claimer.wake();
      }),
      // Notifications sent before the connection listened were missed: look now rather than at the next poll.
      notifier.onConnect(() => {
        this.claimer.wake();
        // A cancel notified while the connection was down was missed: look now rather than at the next check.
        this.cancelCheck.poke();
      }),
      bus.on('worker.lease_lost', ({ workerId }) => this.abortRunsOf(workerId)),
      // A client cancelled a task (the database already says so): abort its handler if it runs here.
      notifier.subscribe(CHANNELS.taskCancelled, (taskId) =>
        this.runs.get(taskId)?.abort(new TaskAbort('cancelled', FAILURE_MESSAGES.cancelled)),
      ),
    );
    this.loop = supervise((signal) => this.claimer.run(signal), {
      signal: this.claiming.signal,
      onRunning: () => (this.claimLoopRunning = true),
      onCrash: (err, restart, giveUp) => {
        this.claimLoopRunning = false;
        this.gaveUp = giveUp;
        bus.emit('engine.crashed', { component: 'claim loop', err, restart, giveUp });
        if (giveUp) this.options.onFatal(err);
      },
    });
    this.cancelCheck.start();
    bus.emit('engine.started', { workerId: heartbeat.workerId, concurrency: this.options.concurrency });
  }

  stop(graceMs: number): Promise<void> {
    this.stopping ??= this.shutdown(graceMs);
    return this.stopping;
  }

  /** Cuts the grace period of a stop short (a second signal): running tasks are failed at once. */
  endGracePeriod(): void {
    this.graceOver.abort();
  }

  private async shutdown(graceMs: number): Promise<void> {
    const { bus, heartbeat, leaseMs } = this.options;
    this.claiming.abort();
    this.unsubscribe.splice(0).forEach((off) => off());
    await Promise.all([this.loop, this.cancelCheck.stop()]);
    const graceEnds = pause(graceMs, this.graceOver.signal);
    // Creates whose inserts were under way as the stop began start their tasks here (no new ones do): wait for
    // them, so that those runs get the grace period like the claimed ones, rather than being failed at once.
    await Promise.race([this.createsDispatched(), graceEnds]);
    bus.emit('engine.stopped_claiming', { running: this.runs.size, graceMs });

    if (this.runs.size > 0) await Promise.race([this.allRunsEnded(), graceEnds]);
    // From here on a run that ends has not ended within the grace period: shutdown fails it below. Outcomes
    // handed in before are written first; if the database is down that may never happen, so the wait is bounded,
    // and the lease covers what is left.
    this.discardOutcomes = true;
    await Promise.race([this.settler.idle(), pause(Math.min(5000, leaseMs), this.graceOver.signal)]);
    this.settler.abandon();
    // Runs still going now are failed below: their progress no longer matters.
    await this.progress.stop();

    const left = [...this.runs.values()];
    if (left.length > 0) bus.emit('engine.grace_over', { running: left.length });
    try {
      const { failed, retried, about } = await heartbeat.deregister(DEREGISTER_DEADLINE_MS);
      const labels = (taskId: string) => {
        const t = about.get(taskId);
        return { kind: t?.kind ?? '', queue: t?.queue ?? '' };
      };
      for (const taskId of retried)
        bus.emit('task.retrying', { taskId, ...labels(taskId), failure: 'shutdown', by: 'shutdown' });
      for (const taskId of failed) {
        bus.emit('task.finished', {
          taskId,
          ...labels(taskId),
          state: 'failed',
          failure: 'shutdown',
          by: 'shutdown',
        });
      }
    } catch (err) {
      // The lease will expire and another process (or this one, restarted) fails the tasks.
      this.options.log.error({ err, worker_id: heartbeat.workerId }, 'could not deregister worker');
    }
    for (const r of left) r.abort(new TaskAbort('shutdown', FAILURE_MESSAGES.shutdown));
  }

  private allRunsEnded(): Promise<void> {
    if (this.runs.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.endedWaiters.push(resolve));
  }

  /**
   * Slots for creates that would start at once (direct dispatch, see the store's startsNow): up to `max`, taken
   * now, while this engine runs, has free slots and its claimer found nothing more queued last time and has heard
   * of nothing since (so a new task passes none queued before it). Undefined when none; else hand the result to
   * `dispatched`, whatever became of the insert.
   */
  reserveForCreates(max: number): { owner: string; slots: number } | undefined {
    const owner = this.options.heartbeat.workerId;
    if (!this.claimLoopRunning || this.stopping || !owner || !this.claimer.mayStartNew) return undefined;
    const slots = Math.min(max, this.slots.free);
    if (slots <= 0) return undefined;
    this.slots.take(slots);
    this.reservations++;
    return { owner, slots };
  }

  /**
   * The end of a reservation: `started` were created running under `owner` and run now, as claimed tasks do; the
   * slots of the rest are free again. Called after the insert's callers have heard of its commit, so that a task's
   * creation is told before its start.
   */
  dispatched(reservation: { owner: string; slots: number }, started: ClaimedTask[]): void {
    this.slots.release(reservation.slots - started.length);
    if (this.discardOutcomes) {
      // Past the grace period: shutdown fails this worker's running tasks (or the reaper does, should it have
      // deregistered first), and a run started now could not be waited for.
      this.slots.release(started.length);
    } else if (started.length > 0) {
      // During a stop's grace period too: shutdown waited for this, and counts these runs with the others.
      this.onClaimed(started, reservation.owner);
    }
    if (--this.reservations === 0) this.reservationsDone.splice(0).forEach((w) => w());
  }

  /** Resolves when every reservation for creates has been handed back (see dispatched). */
  private createsDispatched(): Promise<void> {
    if (this.reservations === 0) return Promise.resolve();
    return new Promise((resolve) => this.reservationsDone.push(resolve));
  }

  private onClaimed(tasks: ClaimedTask[], owner: string): void {
    if (owner !== this.options.heartbeat.workerId) {
      // The lease was lost while the claim ran: these runs are doomed (the reaper fails tasks whose owner is
      // gone). Starting them would only waste their handlers' work.
      this.options.log.warn(
        { tasks: tasks.length, worker_id: owner },
        'claimed under a lost lease; not starting',
      );
      this.slots.release(tasks.length);
      return;
    }
    for (const task of tasks) this.run(task, owner);
  }

  private run(task: ClaimedTask, owner: string): void {
    const { bus, handlers, log } = this.options;
    const run = new Run(task, owner, this.runEvents, log);
    this.runs.set(task.id, run);
    bus.emit('task.started', {
      taskId: task.id,
      attempt: task.attempt,
      handler: task.handler,
      queue: task.queue,
      waitedMs: task.waitedMs,
      workerId: owner,
    });
    run.start(handlers.get(task.handler));
  }

  private onOutcome(run: Run, outcome: Outcome): void {
    // The execution slot is free once the outcome is in and the handler has returned; the run was ended by its
    // signal while the handler goes on: count it as stuck until it returns, and keep its slot until then.
    if (run.handlerDone) this.slots.ran();
    else this.watchStuck(run);
    void this.finish(run, outcome)
      .catch((err: unknown) => this.options.log.error({ err, task_id: run.task.id }, 'could not end the run'))
      .finally(() => {
        if (this.runs.get(run.task.id) === run) this.runs.delete(run.task.id);
        if (this.runs.size === 0) this.endedWaiters.splice(0).forEach((w) => w());
        this.slots.stored();
      });
  }

  private onHandlerReturned(run: Run): void {
    if (run.stuckTimer) {
      clearTimeout(run.stuckTimer);
      run.stuckTimer = undefined;
      if (this.stuck.delete(run.task.id)) {
        this.options.bus.emit('handler.returned', {
          taskId: run.task.id,
          handler: run.task.handler,
          stuckMs: Math.round(performance.now() - run.endedAt),
        });
      }
    }
    // Returned after its run was ended (watchStuck): its execution is over only now.
    if (run.endedAt > 0) this.slots.ran();
  }

  /**
   * The run was ended by its signal while the handler goes on. A handler that honours its signal returns within
   * moments; one still running after STUCK_AFTER_MS ignores it, and is counted and reported as stuck until it
   * returns (its slot stays taken all along).
   */
  private watchStuck(run: Run): void {
    run.endedAt = performance.now();
    run.stuckTimer = setTimeout(() => {
      this.stuck.add(run.task.id);
      this.options.bus.emit('handler.stuck', { taskId: run.task.id, handler: run.task.handler });
    }, STUCK_AFTER_MS);
    run.stuckTimer.unref();
  }

  private onProgress(run: Run, percent: unknown, message: unknown): void {
    // An ended or aborted run's progress would be fenced off in the database: spare the write.
    if (run.ended || run.abortedBy) return;
    const progress = normaliseProgress(percent, message);
    if (!progress) {
      if (!run.progressRefused) {
        run.progressRefused = true;
        this.options.log.warn(
          { task_id: run.task.id },
          'progress ignored: percent must be a number or null, message a string or null',
        );
      }
      return;
    }
    this.progress.report({ id: run.task.id, owner: run.owner, attempt: run.task.attempt, ...progress });
  }

  private async finish(run: Run, outcome: Outcome): Promise<void> {
    const { bus, limits } = this.options;
    const taskId = run.task.id;
    const labels = { kind: run.task.handler, queue: run.task.queue };
    const durationMs = Math.round(performance.now() - run.startedAt);
    const aborted = run.abortedBy;
    if (this.discardOutcomes || (aborted && aborted.kind !== 'timeout')) {
      // Shutdown or a lost lease ends (or already ended) this run in the database.
      void this.progress.end(taskId, false);
      bus.emit('task.outcome_discarded', { taskId, reason: 'aborted' });
      return;
    }
    // The handler's last word on its progress goes in before the outcome: once that is written, it is fenced off.
    await this.progress.end(taskId, true);
    const decision = decide(outcome, run.task, limits);
    const result = await this.settler.settle({
      id: taskId,
      owner: run.owner,
      attempt: run.task.attempt,
      decision,
    });
    switch (result) {
      case 'written':
        if (decision.state === 'scheduled') {
          bus.emit('task.retrying', {
            taskId,
            ...labels,
            failure: decision.failure,
            delayMs: decision.delayMs,
            durationMs,
            by: 'worker',
          });
          return;
        }
        bus.emit('task.finished', {
          taskId,
          ...labels,
          state: decision.state,
          ...(decision.state === 'failed' && { failure: decision.failure }),
          durationMs,
          by: 'worker',
        });
        return;
      case 'replaced':
        bus.emit('task.finished', {
          taskId,
          ...labels,
          state: 'failed',
          failure: 'error',
          durationMs,
          by: 'worker',
        });
        return;
      case 'fenced':
        bus.emit('task.outcome_discarded', { taskId, reason: 'fenced' });
        return;
      case 'unwritable':
        bus.emit('task.outcome_discarded', { taskId, reason: 'unstorable' });
        return;
      case 'abandoned':
        bus.emit('task.outcome_discarded', { taskId, reason: 'aborted' });
        return;
    }
  }

  /**
   * The fallback for a missed `taskd_task_cancelled` notification: one statement over the ids of the runs still
   * going asks which the database no longer has running under this claim, and their handlers are aborted. A
   * cancelled task's run ends as cancelled; one ended otherwise (reaped, say) as a lost lease. Either way the
   * late outcome is discarded, and the database keeps what it says.
   */
  private async abortEndedRuns(signal: AbortSignal): Promise<void> {
    const owner = this.options.heartbeat.workerId;
    const live = [...this.runs.values()].filter((r) => r.owner === owner && !r.abortedBy);
    if (live.length === 0) return;
    const ended = await this.options.store.taskRunsEnded(
      owner,
      live.map((r) => ({ id: r.task.id, attempt: r.task.attempt })),
      { signal },
    );
    for (const { id, state } of ended) {
      const run = this.runs.get(id);
      if (!run || !live.includes(run)) continue;
      run.abort(
        state === 'cancelled'
          ? new TaskAbort('cancelled', FAILURE_MESSAGES.cancelled)
          : new TaskAbort('lease_lost', FAILURE_MESSAGES.workerLost),
      );
    }
  }

  private abortRunsOf(workerId: string): void {
    for (const r of this.runs.values()) {
      if (r.owner === workerId) r.abort(new TaskAbort('lease_lost', FAILURE_MESSAGES.workerLost));
    }
  }
}
