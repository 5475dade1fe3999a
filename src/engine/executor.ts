import type { ClaimedTask, Outcome } from '../domain/task.js';
import { outcomes } from '../domain/task.js';
import type { HandlerContext, HandlerRegistry } from '../handlers/registry.js';
import type { Logger } from '../logger.js';
import { TaskAbort, abortReason } from './abort.js';

/**
 * Runs one claimed task and maps whatever happens onto one Outcome: resolve → completed; throw → failed
 * (error); deadline → failed (timeout), even if the handler ignores its signal; abort from outside → failed
 * (shutdown / worker lost). The executor never touches the database.
 *
 * `controller` is the run's only AbortController: the engine aborts it for shutdown or a lost lease, the
 * deadline here aborts it for a timeout, and `signal.reason` tells which. One per task keeps a process holding
 * 100,000 running tasks small.
 */
export async function executeTask(
  task: ClaimedTask,
  handlers: HandlerRegistry,
  controller: AbortController,
  log: Logger,
): Promise<Outcome> {
  const handler = handlers.get(task.handler);
  if (!handler) return outcomes.failed('no_handler', `no handler named "${task.handler}" in this process`);
  const { signal } = controller;

  // The deadline counts from the start of the run (now), as the task's timeout promises.
  const deadline = setTimeout(
    () => controller.abort(new TaskAbort('timeout', `task timed out after ${task.timeoutMs} ms`)),
    task.timeoutMs,
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });

  try {
    const running = handler(task.input, context(task, signal, log));
    // A handler that ignores its signal keeps running in the background; its late result is discarded.
    running.catch(() => {});
    const value = await Promise.race([running, aborted]);
    return outcomes.completed(typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));
  } catch (err) {
    const reason = abortReason(signal);
    if (reason) {
      switch (reason.kind) {
        case 'timeout':
          return outcomes.failed('timeout', reason.message);
        case 'shutdown':
          return outcomes.failed('shutdown', reason.message);
        case 'lease_lost':
          return outcomes.failed('worker_lost', reason.message);
      }
    }
    return outcomes.failed('error', err instanceof Error ? err.message || err.name : String(err));
  } finally {
    clearTimeout(deadline);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

/** The handler's view of its run. Its logger (bound to task_id) is made only if the handler asks for it. */
function context(task: ClaimedTask, signal: AbortSignal, log: Logger): HandlerContext {
  let bound: Logger | undefined;
  return {
    signal,
    taskId: task.id,
    attempt: task.attempt,
    get log() {
      return (bound ??= log.child({ task_id: task.id }));
    },
  };
}
