import type { TaskStore } from '../db/store.js';
import { workerLost } from '../domain/outcome.js';
import type { EventBus } from '../events/bus.js';

/**
 * Recovers the tasks of workers that died: fails the running tasks of every worker whose lease expired (and
 * removes the worker), and the running tasks whose owner has no worker row at all (a claim that raced with the
 * reaping of its own worker). Both as `worker_lost`, the outcome policy's decision for a lost run.
 */
export async function reap(
  store: TaskStore,
  selfId: string,
  bus: EventBus,
  signal: AbortSignal,
): Promise<void> {
  const { workers, tasks } = await store.workerReapExpired(selfId, workerLost, { signal });
  const orphans = await store.taskFailOrphaned(workerLost, { signal });
  for (const workerId of workers) bus.emit('worker.reaped', { workerId });
  for (const taskId of [...tasks, ...orphans]) {
    bus.emit('task.finished', { taskId, state: 'failed', failure: 'worker_lost', by: 'reaper' });
  }
}
