import type { ClaimedTask, Outcome } from '../domain/task.js';
import { outcomes } from '../domain/task.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { Logger } from '../logger.js';
import { TaskAbort, abortReason } from './abort.js';

/**
 * Runs one claimed task and maps whatever happens onto one Outcome: resolve → completed; throw → failed
 * (error); deadline → failed (timeout), even if the handler ignores its signal; abort from outside → failed
 * (shutdown / worker lost). The executor never touches the database.
 */
export async function executeTask(
  task: ClaimedTask,
  handlers: HandlerRegistry,
  outer: AbortSignal,
  log: Logger,
): Promise<Outcome> {
  const handler = handlers.get(task.handler);
  if (!handler) return outcomes.failed('no_handler', `no handler named "${task.handler}" in this process`);

  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer.reason);
  if (outer.aborted) onOuterAbort();
  else outer.addEventListener('abort', onOuterAbort, { once: true });
  // The deadline counts from the start of the run (now), as the task's timeout promises.
  const deadline = setTimeout(
    () => controller.abort(new TaskAbort('timeout', `task timed out after ${task.timeoutMs} ms`)),
    task.timeoutMs,
  );

  let rejectOnAbort: (reason: unknown) => void = () => {};
  const aborted = new Promise<never>((_, reject) => (rejectOnAbort = reject));
  const onAbort = () => rejectOnAbort(controller.signal.reason);
  controller.signal.addEventListener('abort', onAbort, { once: true });

  try {
    const running = handler(task.input, {
      signal: controller.signal,
      taskId: task.id,
      attempt: task.attempt,
      log,
    });
    // A handler that ignores its signal keeps running in the background; its late result is discarded.
    running.catch(() => {});
    const value = await Promise.race([running, aborted]);
    return outcomes.completed(typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));
  } catch (err) {
    const reason = abortReason(controller.signal);
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
    outer.removeEventListener('abort', onOuterAbort);
    controller.signal.removeEventListener('abort', onAbort);
  }
}
