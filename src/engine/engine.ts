import { describeDbError } from '../db/pool.js';
import type { TaskStore } from '../db/store.js';
import type { ClaimedTask, Outcome } from '../domain/task.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { Logger } from '../logger.js';
import { TaskAbort, abortReason } from './abort.js';
import { Backoff, jitter, pause } from './backoff.js';
import { executeTask } from './executor.js';
import { Lease } from './lease.js';
import { Periodic } from './periodic.js';
import { Settler } from './settler.js';
import { Wakeup } from './wakeup.js';

export interface EngineOptions {
  store: TaskStore;
  handlers: HandlerRegistry;
  log: Logger;
  /** Tasks run at once by this process. */
  concurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  /** Connection string for the LISTEN connection (it cannot come from the pool). */
  listenUrl: string;
  /** Largest number of tasks taken by one claim statement. */
  maxClaimBatch?: number;
}

interface Running {
  task: ClaimedTask;
  owner: string;
  controller: AbortController;
  startedAt: number;
}

export const WORKER_LOST_RESULT =
  'failed: worker lost (the process running this task stopped renewing its lease)';
export const SHUTDOWN_RESULT = 'failed: the server shut down before the task finished';

/**
 * Claims tasks into free slots and runs them. Lifecycle: `start()`, then `stop(graceMs)` in two phases — stop
 * claiming and let running tasks finish for up to `graceMs`, then fail the rest in one statement and abort their
 * handlers. `stop` twice, or before `start`, is fine.
 */
export class Engine {
  private readonly running = new Map<string, Running>();
  private readonly lease: Lease;
  private readonly settler: Settler;
  private readonly wakeup: Wakeup;
  private readonly reaper: Periodic;
  private readonly claiming = new AbortController();
  private readonly graceOver = new AbortController();
  private readonly maxClaimBatch: number;
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Set once shutdown has failed the remaining tasks: later outcomes would be fenced off anyway. */
  private discardOutcomes = false;
  private wakePending = false;
  private wakeLoop: (() => void) | undefined;
  private slotWaiters: (() => void)[] = [];
  private drainedWaiters: (() => void)[] = [];

  constructor(private readonly options: EngineOptions) {
    const { store, log, leaseMs } = options;
    this.maxClaimBatch = options.maxClaimBatch ?? 500;
    this.lease = new Lease(store, leaseMs, (lostId) => this.onLeaseLost(lostId), log);
    this.settler = new Settler(store, log);
    this.wakeup = new Wakeup(options.listenUrl, () => this.wake(), log);
    // A few reaps per lease, so a dead process's tasks are failed soon after its lease runs out.
    this.reaper = new Periodic('reaper', Math.max(250, Math.floor(leaseMs / 4)), () => this.reap(), log);
  }

  get workerId(): string {
    return this.lease.workerId;
  }

  async start(): Promise<void> {
    await this.lease.start();
    this.wakeup.start();
    this.reaper.start(0);
    this.loop = this.claimLoop();
    this.options.log.info(
      { concurrency: this.options.concurrency, worker_id: this.workerId },
      'engine started',
    );
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
    const { log, store } = this.options;
    this.claiming.abort();
    this.wake();
    this.slotWaiters.splice(0).forEach((w) => w());
    await this.loop;
    await this.wakeup.stop();
    log.info(
      { running: this.running.size, grace_ms: graceMs },
      'stopped claiming; waiting for running tasks',
    );

    const graceEnds = pause(graceMs, this.graceOver.signal);
    if (this.running.size > 0) {
      const drained = new Promise<void>((resolve) => this.drainedWaiters.push(resolve));
      await Promise.race([drained, graceEnds]);
    }
    // Outcomes of tasks that finished within the grace period are written before the rest are failed. If the
    // database is down that may never happen: the wait is bounded, and the lease covers what is left.
    await Promise.race([
      this.settler.idle(),
      graceEnds.then(() => pause(Math.min(5000, this.options.leaseMs), this.graceOver.signal)),
    ]);
    this.settler.abandon();
    await this.reaper.stop();
    await this.lease.stop();
    if (!this.workerId) return;

    this.discardOutcomes = true;
    const left = [...this.running.values()];
    if (left.length > 0) log.warn({ running: left.length }, 'grace period over; failing tasks still running');
    try {
      const failed = await store.workerDeregister(this.workerId, 'shutdown', SHUTDOWN_RESULT);
      for (const id of failed)
        log.warn({ task_id: id, status: 'failed', reason: 'shutdown' }, 'task status changed');
      log.info({ worker_id: this.workerId, failed: failed.length }, 'worker deregistered');
    } catch (err) {
      // The lease will expire and another process (or this one, restarted) fails the tasks.
      log.error({ err: describeDbError(err), worker_id: this.workerId }, 'could not deregister worker');
    }
    for (const r of left) r.controller.abort(new TaskAbort('shutdown', SHUTDOWN_RESULT));
  }

  /** Called for each notification, and when the loop should look again (stop, slot freed after a full claim). */
  private wake(): void {
    this.wakePending = true;
    const w = this.wakeLoop;
    this.wakeLoop = undefined;
    w?.();
  }

  private async claimLoop(): Promise<void> {
    const { store, log, concurrency, pollIntervalMs } = this.options;
    const backoff = new Backoff(50, 2000);
    const stopSignal = this.claiming.signal;
    while (!stopSignal.aborted) {
      const free = concurrency - this.running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      const limit = Math.min(free, this.maxClaimBatch);
      this.wakePending = false;
      // The owner is the id the claim is made under, not whatever id the lease has when the claim returns.
      const owner = this.workerId;
      let claimed: ClaimedTask[];
      try {
        claimed = await store.taskClaimAvailable(owner, limit);
        backoff.reset();
      } catch (err) {
        log.warn({ err: describeDbError(err) }, 'claiming tasks failed; retrying');
        await pause(backoff.nextDelay(), stopSignal);
        continue;
      }
      if (owner !== this.workerId) {
        // The lease was lost while the claim ran: these runs are doomed (the reaper fails tasks whose owner is
        // gone). Starting them would only waste their handlers' work.
        log.warn({ tasks: claimed.length, worker_id: owner }, 'claimed under a lost lease; not starting');
        continue;
      }
      for (const task of claimed) this.run(task, owner);
      // A full claim means more may be waiting: claim again as soon as there are free slots.
      if (claimed.length === limit) continue;
      if (this.wakePending) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, jitter(pollIntervalMs));
        this.wakeLoop = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private run(task: ClaimedTask, owner: string): void {
    const { log, handlers } = this.options;
    const running: Running = { task, owner, controller: new AbortController(), startedAt: performance.now() };
    this.running.set(task.id, running);
    log.info(
      { task_id: task.id, attempt: task.attempt, handler: task.handler, worker_id: owner },
      'task started',
    );
    void executeTask(task, handlers, running.controller, log).then((outcome) =>
      this.finish(running, outcome),
    );
  }

  private async finish(r: Running, outcome: Outcome): Promise<void> {
    const { log } = this.options;
    const taskId = r.task.id;
    const durationMs = Math.round(performance.now() - r.startedAt);
    if (this.running.get(taskId) === r) this.running.delete(taskId);
    this.slotFreed();
    const aborted = abortReason(r.controller.signal);
    if (this.discardOutcomes || (aborted && aborted.kind !== 'timeout')) {
      // Shutdown or a lost lease already failed this run in the database.
      log.debug({ task_id: taskId, outcome: outcome.kind }, 'outcome discarded: the run was already failed');
      return;
    }
    const settled = await this.settler.settle({
      id: taskId,
      owner: r.owner,
      attempt: r.task.attempt,
      outcome,
    });
    if (!settled) {
      log.warn(
        { task_id: taskId, outcome: outcome.kind },
        'outcome discarded: the lease on this run was lost',
      );
      return;
    }
    const status = outcome.kind === 'completed' ? 'completed' : 'failed';
    const fields = {
      task_id: taskId,
      status,
      duration_ms: durationMs,
      ...(outcome.kind === 'failed' && { reason: outcome.failure }),
    };
    if (outcome.kind === 'failed' && outcome.failure === 'timeout') log.warn(fields, 'task timed out');
    log.info(fields, 'task status changed');
  }

  private slotFreed(): void {
    const waiter = this.slotWaiters.shift();
    if (waiter) {
      // Let other completions of this turn free their slots too, so the next claim takes a batch.
      setImmediate(waiter);
    }
    if (this.running.size === 0) this.drainedWaiters.splice(0).forEach((w) => w());
  }

  private onLeaseLost(lostId: string): void {
    for (const r of this.running.values()) {
      if (r.owner === lostId) r.controller.abort(new TaskAbort('lease_lost', WORKER_LOST_RESULT));
    }
  }

  private async reap(): Promise<void> {
    const { store, log } = this.options;
    if (!this.workerId) return;
    const { workers, tasks } = await store.workerReapExpired(this.workerId, WORKER_LOST_RESULT);
    const orphans = await store.taskFailOrphaned(WORKER_LOST_RESULT);
    for (const id of workers) log.warn({ worker_id: id }, 'lost worker recovered: its lease expired');
    for (const id of [...tasks, ...orphans]) {
      log.warn({ task_id: id, status: 'failed', reason: 'worker_lost' }, 'task status changed');
    }
  }
}
