import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { EndedRuns, TaskStore } from '../db/store.js';
import { shutdown } from '../domain/outcome.js';
import type { Backoff } from '../domain/task.js';
import type { EventBus } from '../events/bus.js';
import { Periodic } from '../lifecycle/periodic.js';

/**
 * This process's registration as a worker, and its lease. Every running task points at the worker id, so one
 * heartbeat statement per interval keeps the leases of all of them, however many there are; the same statement
 * holds or takes the maintenance leadership. Heartbeats go through the store's lifeline connection, never
 * queueing behind ordinary work.
 *
 * If a heartbeat finds the worker row gone, another process has declared this one dead and failed its tasks:
 * `worker.lease_lost` is emitted (the engine aborts those runs), and the process registers again under a new id.
 */
export class Heartbeat {
  private id = '';
  private leader = false;
  /** Until when (performance.now()) the last heartbeat's leadership is sure to hold. */
  private leaderUntil = 0;
  private readonly periodic: Periodic;
  private started: Promise<void> | undefined;
  private deregistered: Promise<EndedRuns> | undefined;

  constructor(
    private readonly store: TaskStore,
    private readonly leaseMs: number,
    private readonly bus: EventBus,
    /** Tasks this process runs at once (0: it serves the API only). */
    private readonly concurrency: number,
    /** Backoff of tasks that set none of their own (for the runs a shutdown interrupts). */
    private readonly backoff: Backoff,
  ) {
    // Three heartbeats per lease: one can fail or run late and the lease still holds.
    this.periodic = new Periodic(
      Math.floor(leaseMs / 3),
      () => this.beat(),
      (err) => this.bus.emit('worker.heartbeat_failed', { workerId: this.id, err }),
    );
  }

  /** The worker id that current claims are made under ('' before registration). */
  get workerId(): string {
    return this.id;
  }

  /**
   * True while this process holds the maintenance leadership. Judged from the time the last heartbeat was
   * sent, so it turns false no later than the database's lease runs out, even if heartbeats stop getting through.
   */
  get isLeader(): boolean {
    return this.leader && performance.now() < this.leaderUntil;
  }

  start(): Promise<void> {
    this.started ??= (async () => {
      await this.register();
      // The first beat at once: a process that starts alone learns that it leads without waiting an interval.
      this.periodic.start(0);
    })();
    return this.started;
  }

  /**
   * Leaves for good: stops the heartbeat, ends the tasks still running under this worker as `shutdown` (back to
   * the queue if they have attempts left, failed otherwise), and gives up the leadership, in one statement.
   * Twice is fine.
   */
  deregister(deadlineMs: number): Promise<EndedRuns> {
    this.deregistered ??= (async () => {
      await this.periodic.stop();
      this.setLeader(false);
      if (!this.id) return { failed: [], retried: [], about: new Map() };
      const ended = await this.store.workerDeregister(this.id, shutdown(this.backoff), { deadlineMs });
      this.bus.emit('worker.deregistered', {
        workerId: this.id,
        failed: ended.failed.length,
        requeued: ended.retried.length,
      });
      return ended;
    })();
    return this.deregistered;
  }

  private async register(): Promise<void> {
    const id = randomUUID();
    await this.store.workerRegister(id, hostname(), process.pid, this.leaseMs, this.concurrency);
    this.id = id;
    this.bus.emit('worker.registered', { workerId: id, leaseMs: this.leaseMs });
  }

  private async beat(): Promise<void> {
    const sentAt = performance.now();
    const { held, leader } = await this.store.workerHeartbeat(this.id, this.leaseMs);
    if (!held) {
      const lost = this.id;
      this.setLeader(false);
      this.bus.emit('worker.lease_lost', { workerId: lost });
      await this.register();
      return;
    }
    this.leaderUntil = sentAt + this.leaseMs;
    this.setLeader(leader);
    this.bus.emit('worker.heartbeat', { workerId: this.id, leader });
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.bus.emit(leader ? 'leader.elected' : 'leader.resigned', { workerId: this.id });
  }
}
