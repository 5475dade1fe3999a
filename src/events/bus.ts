import { EventEmitter } from 'node:events';
import type { FailureKind } from '../domain/task.js';

/**
 * What happens inside taskd, as typed events: the seam between the parts that do the work (engine, heartbeat,
 * maintenance, notifier, service) and the parts that watch it (logs, later metrics, tests). A part emits facts;
 * it does not decide how they are logged or counted.
 */
export interface TaskdEvents {
  /** Committed: the 201 may now be sent. */
  'task.created': { taskId: string; requestId?: string | undefined };
  'task.started': { taskId: string; attempt: number; handler: string; workerId: string };
  /**
   * A run ended and its decision was written (by this process's settler, reaper or shutdown, or for an external
   * worker that reported its outcome through this process).
   */
  'task.finished': {
    taskId: string;
    state: 'completed' | 'failed';
    failure?: FailureKind;
    durationMs?: number;
    by: 'worker' | 'reaper' | 'shutdown' | 'external';
  };
  /** A run ended badly and the task will run again: after a backoff (`scheduled`), or at once (shutdown). */
  'task.retrying': {
    taskId: string;
    failure: FailureKind;
    delayMs?: number;
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
  'settle.retrying': { tasks: number; failures: number; err: unknown };
  'settle.recovered': { tasks: number; failures: number };
  'settle.rejected': { tasks: number; err: unknown };
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
