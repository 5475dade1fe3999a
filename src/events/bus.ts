import { EventEmitter } from 'node:events';
import type { MetricsSample } from '../db/store.js';
import type { FailureKind } from '../domain/task.js';
import type { HealthReport } from '../health/checks.js';

/**
 * What happens inside taskd, as typed events: the seam between the parts that do the work (engine, heartbeat,
 * maintenance, notifier, service) and the parts that watch it (logs, later metrics, tests). A part emits facts;
 * it does not decide how they are logged or counted.
 */
export interface TaskdEvents {
  /** Committed: the 201 may now be sent. `api` is the API the create came through. */
  'task.created': {
    taskId: string;
    kind: string;
    queue: string;
    api: 'original' | 'v1';
    requestId?: string | undefined;
  };
  /**
   * A run started in this process; `waitedMs` is how long the task waited for it (from created, or from its
   * run_at for a delayed or retried task).
   */
  'task.started': {
    taskId: string;
    attempt: number;
    handler: string;
    queue: string;
    waitedMs: number;
    workerId: string;
  };
  /**
   * A task reached a terminal state and it was written: a run ended (by this process's settler, reaper or
   * shutdown, or for an external worker that reported its outcome through this process), or a client cancelled
   * it (`by: 'client'`).
   */
  'task.finished': {
    taskId: string;
    kind: string;
    queue: string;
    state: 'completed' | 'failed' | 'cancelled';
    failure?: FailureKind;
    /** How long the run took, where this process ran it. */
    durationMs?: number;
    by: 'worker' | 'reaper' | 'shutdown' | 'client' | 'external';
  };
  /** A run ended badly and the task will run again: after a backoff (`scheduled`), or at once (shutdown). */
  'task.retrying': {
    taskId: string;
    kind: string;
    queue: string;
    failure: FailureKind;
    delayMs?: number;
    durationMs?: number;
    by: 'worker' | 'reaper' | 'shutdown' | 'external';
  };
  /** An external worker wrote about a run its lease no longer holds (expired, cancelled, run again): refused. */
  'task.lease_lost': { taskId: string; action: 'heartbeat' | 'complete' | 'fail' };
  /** A run's outcome was not written: someone else had ended the run already. */
  'task.outcome_discarded': { taskId: string; reason: 'fenced' | 'aborted' | 'unstorable' };
  /**
   * Handlers' progress was written for `taskIds` (one statement); `fenced` runs had ended or were lost, and their
   * progress changed nothing.
   */
  'task.progress': { taskIds: string[]; fenced: number };
  'progress.failed': { tasks: number; failures: number; err: unknown };
  /** The task's run was ended (deadline, shutdown, lost lease) but its handler ignores its signal and still runs. */
  'handler.stuck': { taskId: string; handler: string };
  /** A stuck handler finally returned; its slot is free again. */
  'handler.returned': { taskId: string; handler: string; stuckMs: number };
  /** A worker thread for handlers of `isolation: "thread"` started; `threads` now alive. */
  'handler_thread.started': { threads: number };
  /** A handler thread ended: idle, terminated with its run (deadline, cancel), or crashed. */
  'handler_thread.ended': { threads: number };
  'worker.registered': { workerId: string; leaseMs: number };
  'worker.heartbeat': { workerId: string; leader: boolean };
  'worker.heartbeat_failed': { workerId: string; err: unknown };
  /** This process's lease was found gone: another process declared it dead. */
  'worker.lease_lost': { workerId: string };
  /** Another worker's lease expired and this process (the leader) recovered its tasks. */
  'worker.reaped': { workerId: string };
  'worker.deregistered': { workerId: string; failed: number; requeued: number };
  'leader.elected': { workerId: string };
  'leader.resigned': { workerId: string };
  'engine.started': { workerId: string; concurrency: number };
  /** A loop of the engine died of an unexpected error; it is restarted, or the process stops. */
  'engine.crashed': { component: string; err: unknown; restart: number; giveUp: boolean };
  'engine.stopped_claiming': { running: number; graceMs: number };
  'engine.grace_over': { running: number };
  'notifier.connected': { reconnect: boolean };
  'notifier.lost': { err: unknown };
  'maintenance.failed': { job: string; err: unknown };
  'retention.deleted': { deleted: number; maxAgeMs: number };
  /** Retention dropped these partitions of the task table whole (every task in them ended before the age). */
  'retention.dropped': { partitions: string[]; maxAgeMs: number };
  /** New time partitions of the task table were made ahead of need. */
  'partitions.created': { created: number };
  /** Making partitions ahead waited too long for its lock; tried again later. */
  'partitions.deferred': Record<string, never>;
  /** The first webhook or http task request of this process went out unsigned (WEBHOOK_SECRET is not set). */
  'outbound.unsigned': Record<string, never>;
  /** A completion webhook got a 2xx. */
  'webhook.delivered': { webhookId: string; taskId: string; attempt: number; responseStatus: number };
  /**
   * An attempt got no 2xx (`responseStatus` when there was an answer at all); `retryInMs` set: it is tried
   * again then, unset: it was the last one (`webhook.failed` follows).
   */
  'webhook.attempt_failed': {
    webhookId: string;
    taskId: string;
    attempt: number;
    responseStatus?: number | undefined;
    error: string;
    retryInMs?: number | undefined;
  };
  /** A webhook was given up on: out of attempts, or its address is refused. */
  'webhook.failed': { webhookId: string; taskId: string; attempts: number; error: string };
  /** Claiming or recording deliveries failed (the database is away, say); tried again at the next wake. */
  'webhook.store_failed': { err: unknown };
  /**
   * A schedule's tick was run: its task committed (`taskId`; null when the tick's idempotency key was taken
   * already) and the schedule moved on to `next` (null: the expression has no tick left).
   */
  'schedule.fired': { name: string; tick: string; taskId: string | null; next: string | null };
  /** Ticks from `from` up to (not including) `to` were more than the grace late and were skipped. */
  'schedule.missed': { name: string; from: string; to: string };
  /** Running the schedules failed (the database, or one schedule: `name`); the ticker retries with backoff. */
  'schedule.failed': { name?: string; err: unknown };
  'settle.retrying': { tasks: number; failures: number; err: unknown };
  'settle.recovered': { tasks: number; failures: number };
  'settle.rejected': { tasks: number; err: unknown };
  /** The periodic sample of the backlog (every METRICS_SAMPLE_INTERVAL_MS, in every process). */
  'queues.sampled': MetricsSample;
  /** The periodic sample of the database's health, evaluated (every METRICS_SAMPLE_INTERVAL_MS). */
  'health.sampled': { report: HealthReport };
  /** A periodic sample (`queues`, `health`) failed; the next interval tries again. */
  'sample.failed': { sampler: 'queues' | 'health'; err: unknown };
  /** A periodic health check of the database crossed its threshold (once per crossing, not per sample). */
  'health.warn': HealthCrossing;
  /** A check that was over its threshold is back under it. */
  'health.recovered': HealthCrossing;
  /** The read replica (DATABASE_READ_URL) serves stale-tolerant reads again: it answers and is within its bound. */
  'replica.used': { replica: string; lagMs: number | null };
  /** Reads go to the primary: the replica is down, lags beyond DATABASE_READ_MAX_LAG_MS, or is not a standby. */
  'replica.unused': { replica: string; reason: string; lagMs: number | null; err?: unknown };
}

/** A database health check and where it stands: see src/health/. */
export interface HealthCrossing {
  check: string;
  /** What the check is about, when it has several (a table). */
  subject?: string | undefined;
  value: number | null;
  unit: string;
  threshold: number;
  /** Who holds the xmin horizon back, for that check: never a query's text. */
  holder?: Record<string, unknown> | undefined;
}

export type EventName = keyof TaskdEvents;
type Listener<E extends EventName> = (payload: TaskdEvents[E]) => void;

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (event: string, err: unknown) => void = () => {}) {
    this.emitter.setMaxListeners(0);
  }

  on<E extends EventName>(event: E, listener: Listener<E>): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  /** Calls every listener now; a listener that throws is reported and does not stop the emitter or the others. */
  emit<E extends EventName>(event: E, payload: TaskdEvents[E]): void {
    for (const listener of this.emitter.listeners(event) as Listener<E>[]) {
      try {
        listener(payload);
      } catch (err) {
        this.onListenerError(event, err);
      }
    }
  }

  /** Resolves with the first payload of `event` that matches (for tests and shutdown sequencing). */
  next<E extends EventName>(
    event: E,
    predicate: (p: TaskdEvents[E]) => boolean = () => true,
  ): Promise<TaskdEvents[E]> {
    return new Promise((resolve) => {
      const off = this.on(event, (p) => {
        if (!predicate(p)) return;
        off();
        resolve(p);
      });
    });
  }
}
