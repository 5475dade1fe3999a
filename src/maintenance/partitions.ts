import { isLockTimeout } from '../db/errors.js';
import type { TaskStore } from '../db/store.js';
import type { EventBus } from '../events/bus.js';

/** The shape of the task table's time partitions, from the configuration. */
export interface PartitionPlan {
  /** One partition's range (PARTITION_INTERVAL_MINUTES). */
  stepMs: number;
}

/**
 * How far ahead partitions are made: two ranges, and at least two minutes, so that a leader that is late (or a
 * host whose clock runs ahead) still finds the partition of the time in its ids. No more: every partition, empty
 * or not, is one more for the planner to consider. What has no partition lands in the default partition and is
 * moved out when its partition is made.
 */
export const aheadMs = (plan: PartitionPlan) => Math.max(2 * plan.stepMs, 120_000);

/** How often the leader makes the partitions ahead: well within the margin above. */
export const ensureEveryMs = (plan: PartitionPlan) => Math.min(Math.floor(aheadMs(plan) / 4), 3_600_000);

/**
 * Makes the time partitions from the newest one's end until `aheadMs` from now (at the first start, from one
 * range back). Every process runs it at start-up, before it makes any task; the maintenance leader then keeps
 * the margin. Safe to run from several processes at once (the database serialises it).
 */
export async function ensurePartitions(
  store: TaskStore,
  plan: PartitionPlan,
  bus: EventBus,
): Promise<number> {
  let made: number;
  try {
    made = await store.taskPartitionsEnsure(plan.stepMs, plan.stepMs, aheadMs(plan));
  } catch (err) {
    // Its lock was not had within 2 s (a long statement on the task table): tasks meanwhile land in the default
    // partition, and the leader tries again soon.
    if (!isLockTimeout(err)) throw err;
    bus.emit('partitions.deferred', {});
    return 0;
  }
  if (made > 0) bus.emit('partitions.created', { created: made });
  return made;
}
