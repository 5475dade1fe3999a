import { FAILURE_MESSAGES } from '../domain/outcome.js';
import type { ClaimedTask, Outcome } from '../domain/task.js';
import { outcomes } from '../domain/task.js';
import type { HandlerContext, HandlerRegistry } from '../handlers/registry.js';
import type { Logger } from '../logger.js';
import { TaskAbort, abortReason } from './abort.js';

export interface Execution {
  /** How the run ended: at the handler's return or throw, or at once when its signal aborts. */
  outcome: Promise<Outcome>;
  /**
   * Resolves when the handler itself has returned. Later than `outcome` when the handler ignores its signal: it
   * keeps running after its run was ended, and the engine counts it as stuck meanwhile.
   */
  handlerReturned: Promise<void>;
  /** Whether the handler has returned yet. Already true when `outcome` resolves from the handler's own return. */
  readonly handlerDone: boolean;
}

/**
 * Runs one claimed task and maps whatever happens onto one Outcome: a value → completed; a throw → failed (error);
 * the deadline → failed (timeout), even if the handler ignores its signal; an abort from outside → failed
 * (shutdown / worker lost). The executor never touches the database.
 *
 * `controller` is the run's only AbortController: the engine aborts it for shutdown or a lost lease, the deadline
 * here aborts it for a timeout, and `signal.reason` tells which. One per task keeps a process holding 100,000
 * running tasks small.
 */
export function executeTask(
  task: ClaimedTask,
  handlers: HandlerRegistry,
  controller: AbortController,
  log: Logger,
  onProgress: ProgressSink = () => {},
): Execution {
  const handler = handlers.get(task.handler);
  if (!handler) {
    const outcome = outcomes.failed('no_handler', FAILURE_MESSAGES.noHandler(task.handler));
    return { outcome: Promise.resolve(outcome), handlerReturned: Promise.resolve(), handlerDone: true };
  }
  const { signal } = controller;

  // The deadline counts from the start of the run (now), as the task's timeout promises.
  const deadline = setTimeout(
    () => controller.abort(new TaskAbort('timeout', FAILURE_MESSAGES.timeout(task.timeoutMs))),
    task.timeoutMs,
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });

  // A handler may return a plain value, a promise, or throw before returning one: all are the same here.
  const running = new Promise<unknown>((resolve) =>
    resolve(handler(task.input, context(task, signal, log, onProgress))),
  );
  let handlerDone = false;
  // Registered before the race below, so that the flag is set before the outcome can resolve from the return.
  const handlerReturned = running.then(
    () => void (handlerDone = true),
    () => void (handlerDone = true),
  );
  const outcome = Promise.race([running, aborted])
    .then(
      (value) => outcomes.completed(value),
      (err: unknown) => {
        const reason = abortReason(signal);
        if (reason) {
          switch (reason.kind) {
            case 'timeout':
              return outcomes.failed('timeout', reason.message);
            case 'shutdown':
              return outcomes.failed('shutdown', reason.message);
            case 'lease_lost':
              return outcomes.failed('worker_lost', reason.message);
            case 'cancelled':
              return outcomes.failed('cancelled', reason.message, false);
          }
        }
        // A handler says "running this again would not help" with an error whose `retryable` is false, and
        // "not before" with its `retryAfterMs` (a number of milliseconds).
        const said = err as { retryable?: unknown; retryAfterMs?: unknown } | null;
        const retryable = said?.retryable === false ? false : undefined;
        const after = said?.retryAfterMs;
        return outcomes.failed(
          'error',
          err instanceof Error ? err.message || err.name : String(err),
          retryable,
          typeof after === 'number' && Number.isFinite(after) && after > 0 ? after : undefined,
        );
      },
    )
    .finally(() => {
      clearTimeout(deadline);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    });
  return {
    outcome,
    handlerReturned,
    get handlerDone() {
      return handlerDone;
    },
  };
}

/** Where a handler's `ctx.progress` goes: its arguments as the handler passed them, unchecked. */
export type ProgressSink = (percent: unknown, message: unknown) => void;

/** The handler's view of its run. Its logger (bound to task_id) is made only if the handler asks for it. */
function context(
  task: ClaimedTask,
  signal: AbortSignal,
  log: Logger,
  onProgress: ProgressSink,
): HandlerContext {
  let bound: Logger | undefined;
  return {
    signal,
    taskId: task.id,
    attempt: task.attempt,
    get log() {
      return (bound ??= log.child({ task_id: task.id }));
    },
    progress: (percent, message) => {
      // Reporting progress must never fail the work it reports on.
      try {
        onProgress(percent, message);
      } catch (err) {
        log.warn({ err, task_id: task.id }, 'could not record progress');
      }
    },
  };
}
