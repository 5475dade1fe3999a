import type { TaskStore } from '../db/store.js';
import type { EventBus } from '../events/bus.js';
import { pause } from '../lifecycle/backoff.js';

/** Rows deleted by one statement: few enough that a statement holds few locks and its transaction stays small. */
export const RETENTION_BATCH = 1000;

/**
 * Deletes finished tasks older than the retention age, a batch per statement with a breath between batches, so
 * that a week at full speed does not grow the table (and the claim query) without bound. Stops between batches
 * (and gives up the statement in flight) as soon as `signal` aborts. Returns how many tasks it deleted.
 */
export async function sweepRetention(
  store: TaskStore,
  maxAgeMs: number,
  bus: EventBus,
  signal: AbortSignal,
): Promise<number> {
  let total = 0;
  try {
    while (!signal.aborted) {
      const deleted = await store.taskDeleteFinishedBefore(maxAgeMs, RETENTION_BATCH, { signal });
      total += deleted;
      if (deleted < RETENTION_BATCH) break;
      await pause(50, signal);
    }
  } finally {
    if (total > 0) bus.emit('retention.deleted', { deleted: total, maxAgeMs });
  }
  return total;
}
