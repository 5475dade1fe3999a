import type { TaskStore } from '../db/store.js';
import { workerLost } from '../domain/outcome.js';
import type { Backoff } from '../domain/task.js';
import type { EventBus } from '../events/bus.js';

/**
 * Recovers the tasks of workers that died: ends the running tasks of every worker whose lease expired (and
 * removes the worker), and the running tasks whose owner has no worker row at all (a claim that raced with the
 * reaping of its own worker). Both as `worker_lost`, the outcome policy's decision for a lost run: retried after a
 * backoff while the task has attempts left, failed otherwise. External workers' runs are held by leases, not by
 * processes: those whose lease ran out are ended the same way.
 */
export async function reap(
  store: TaskStore,
  selfId: string,
  backoff: Backoff,
  bus: EventBus,
  signal: AbortSignal,
): Promise<void> {
  const decision = workerLost(backoff);
  const { workers, tasks, retried, about } = await store.workerReapExpired(selfId, decision, { signal });
  const orphans = await store.taskFailOrphaned(decision, { signal });
  const leases = await store.taskReapExpiredLeases(decision, { signal });
  const labels = (taskId: string) => {
    const t = about.get(taskId) ?? orphans.about.get(taskId) ?? leases.about.get(taskId);
    return { kind: t?.kind ?? '', queue: t?.queue ?? '' };
  };
  for (const workerId of workers) bus.emit('worker.reaped', { workerId });
  for (const taskId of [...tasks, ...orphans.failed, ...leases.failed]) {
    bus.emit('task.finished', {
      taskId,
      ...labels(taskId),
      state: 'failed',
      failure: 'worker_lost',
      by: 'reaper',
    });
  }
  for (const taskId of [...retried, ...orphans.retried, ...leases.retried]) {
    bus.emit('task.retrying', { taskId, ...labels(taskId), failure: 'worker_lost', by: 'reaper' });
  }
}
