import {
  CHANNELS,
  leftTasksQueued,
  type Lease,
  type LeasedTask,
  type TaskRecord,
  type TaskStore,
} from '../db/store.js';
import type { EventBus } from '../events/bus.js';
import { jitter } from '../lifecycle/backoff.js';
import type { Notifier } from '../notify/notifier.js';
import { normaliseProgress } from '../engine/progress.js';
import { ApiError } from './errors.js';
import { jsonText, storableText } from './outcome.js';
import type { Backoff } from './task.js';

/** Longest a claim may wait for a task, in milliseconds (`wait_ms`). */
export const MAX_CLAIM_WAIT_MS = 60_000;

/** Most tasks one claim may take (`max`). */
export const MAX_CLAIM_TASKS = 100;

/** The name a run's history gives a worker that did not name itself. */
export const ANONYMOUS_WORKER = 'external';

export interface ExternalWorkersOptions {
  store: TaskStore;
  notifier: Notifier;
  bus: EventBus;
  /** EXTERNAL_KINDS: the only kinds a claim may ask for. */
  kinds: readonly string[];
  /** EXTERNAL_LEASE_MS: a lease's length when the claim or heartbeat sets none. */
  leaseMs: number;
  /**
   * A waiting claim looks again this often even when no notification came (POLL_INTERVAL_MS, jittered), as the
   * engine's claimer does: room freed in a limited queue is not notified, and a notification may be missed.
   */
  pollIntervalMs: number;
  maxResultBytes: number;
  /** Backoff between retries of a task that sets none of its own. */
  backoff: Backoff;
  /** False once the process drains: new claims are refused, so that workers move to another instance. */
  isAccepting: () => boolean;
}

export interface ClaimRequest {
  kinds: readonly string[];
  max: number;
  waitMs: number;
  leaseMs?: number | undefined;
  workerId?: string | undefined;
}

/**
 * External workers in any language: they claim tasks of the EXTERNAL_KINDS over HTTP, each held by a lease whose
 * token fences everything the worker then writes (heartbeat, complete, fail). A claim that finds nothing waits
 * for the notifier's "new runnable tasks" notifications (creates, promotions, retries, resumed queues) up to its
 * `wait_ms`, and ends early when the process shuts down.
 */
export class ExternalWorkers {
  private readonly kinds: ReadonlySet<string>;
  private readonly waiting = new Set<() => void>();
  private closed = false;

  constructor(private readonly options: ExternalWorkersOptions) {
    this.kinds = new Set(options.kinds);
  }

  /** Leases up to `max` runnable tasks of `kinds`, waiting up to `waitMs` for the first. */
  async claim(request: ClaimRequest, signal: AbortSignal): Promise<LeasedTask[]> {
    const kinds = [...new Set(request.kinds)];
    const problems = kinds.flatMap((kind) =>
      this.kinds.has(kind)
        ? []
        : [
            {
              path: `/body/kinds/${request.kinds.indexOf(kind)}`,
              message:
                this.kinds.size === 0
                  ? `"${kind}" is not an external kind: EXTERNAL_KINDS is unset, so no kind is`
                  : `"${kind}" is not an external kind (EXTERNAL_KINDS: ${[...this.kinds].join(', ')}); ` +
                    'taskd runs the other kinds itself',
            },
          ],
    );
    if (problems.length > 0) throw new ApiError('INVALID_REQUEST', undefined, problems);
    if (this.closed || !this.options.isAccepting()) throw new ApiError('SHUTTING_DOWN');

    const { store, notifier } = this.options;
    const leaseMs = request.leaseMs ?? this.options.leaseMs;
    const worker = request.workerId ?? ANONYMOUS_WORKER;
    const deadline = performance.now() + Math.min(request.waitMs, MAX_CLAIM_WAIT_MS);

    // Listening before the first look: a task created between that look and the wait still wakes it.
    let woken = false;
    let wake: (() => void) | undefined;
    const onWake = () => {
      woken = true;
      wake?.();
    };
    const unsubscribe = [
      // Creates that started all their tasks at once (direct dispatch) left nothing to lease.
      notifier.subscribe(CHANNELS.taskCreated, (payload) => {
        if (leftTasksQueued(payload)) onWake();
      }),
      notifier.onConnect(onWake),
    ];
    this.waiting.add(onWake);
    signal.addEventListener('abort', onWake, { once: true });
    try {
      for (;;) {
        woken = false;
        const tasks = await store.taskLease(kinds, request.max, leaseMs, worker);
        if (tasks.length > 0) {
          for (const { task } of tasks) {
            this.options.bus.emit('task.started', {
              taskId: task.id,
              attempt: task.attempt,
              handler: task.kind,
              queue: task.queue,
              // From when the task became runnable (its run_at: created, delayed or due for a retry) to its lease.
              waitedMs: Math.max(0, Date.parse(task.started_at ?? '') - Date.parse(task.run_at)) || 0,
              workerId: worker,
            });
          }
          return tasks;
        }
        const left = deadline - performance.now();
        if (left <= 0 || this.closed || signal.aborted) return [];
        if (woken) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, jitter(this.options.pollIntervalMs)));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
        if (this.closed || signal.aborted) return [];
      }
    } finally {
      for (const u of unsubscribe) u();
      this.waiting.delete(onWake);
      signal.removeEventListener('abort', onWake);
    }
  }

  /** Extends the lease (by `leaseMs`, or EXTERNAL_LEASE_MS) and stores the progress given. */
  async heartbeat(
    id: string,
    token: string,
    progress: { percent?: number | null; message?: string | null } | undefined,
    leaseMs?: number,
  ): Promise<Lease> {
    const stored = progress && normaliseProgress(progress.percent, progress.message);
    const lease = await this.options.store.taskLeaseRenew(id, token, leaseMs ?? this.options.leaseMs, stored);
    return lease ?? this.leaseLost(id, 'heartbeat');
  }

  /** Completes the task with `result`, stored as a handler's would be. */
  async complete(id: string, token: string, result: unknown): Promise<TaskRecord> {
    const output = jsonText(result);
    const bytes = Buffer.byteLength(output, 'utf8');
    if (bytes > this.options.maxResultBytes) {
      throw new ApiError('INVALID_REQUEST', undefined, [
        {
          path: '/body/result',
          message: `is ${bytes} bytes of JSON, more than MAX_RESULT_BYTES (${this.options.maxResultBytes}); nothing was changed`,
        },
      ]);
    }
    const task = await this.options.store.taskLeaseComplete(id, token, output);
    if (!task) return this.leaseLost(id, 'complete');
    this.options.bus.emit('task.finished', {
      taskId: id,
      kind: task.kind,
      queue: task.queue,
      state: 'completed',
      durationMs: runMs(task),
      by: 'external',
    });
    return task;
  }

  /**
   * Fails the run. With `retry` (the default, as for a handler that throws), the task runs again after its
   * backoff while it has attempts left; without, it fails for good.
   */
  async fail(id: string, token: string, message: string, retry: boolean): Promise<TaskRecord> {
    const task = await this.options.store.taskLeaseFail(id, token, {
      failure: 'error',
      result: storableText(message),
      retry: retry ? 'later' : 'never',
      backoff: this.options.backoff,
    });
    if (!task) return this.leaseLost(id, 'fail');
    if (task.state === 'failed') {
      this.options.bus.emit('task.finished', {
        taskId: id,
        kind: task.kind,
        queue: task.queue,
        state: 'failed',
        failure: 'error',
        durationMs: runMs(task),
        by: 'external',
      });
    } else {
      this.options.bus.emit('task.retrying', {
        taskId: id,
        kind: task.kind,
        queue: task.queue,
        failure: 'error',
        by: 'external',
      });
    }
    return task;
  }

  /** Shutdown: every waiting claim answers now (with what it has: nothing). */
  close(): void {
    this.closed = true;
    for (const w of [...this.waiting]) w();
  }

  /** The guarded write changed nothing: the task is gone (404) or no longer held by this lease (409). */
  private async leaseLost(id: string, action: 'heartbeat' | 'complete' | 'fail'): Promise<never> {
    if (!(await this.options.store.taskGetRecord(id))) throw new ApiError('TASK_NOT_FOUND');
    this.options.bus.emit('task.lease_lost', { taskId: id, action });
    throw new ApiError('LEASE_LOST');
  }
}

/** How long the run that just ended took, by the database's timestamps; undefined when they are not both there. */
function runMs(task: TaskRecord): number | undefined {
  if (task.started_at === null || task.finished_at === null) return undefined;
  return Math.max(0, Date.parse(task.finished_at) - Date.parse(task.started_at));
}
