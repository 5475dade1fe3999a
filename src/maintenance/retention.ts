import type { TaskStore } from '../db/store.js';
import { isLockTimeout } from '../db/errors.js';
import type { EventBus } from '../events/bus.js';
import { pause } from '../lifecycle/backoff.js';

/** Rows deleted by one statement: few enough that a statement holds few locks and its transaction stays small. */
export const RETENTION_BATCH = 1000;

/**
 * How long dropping a partition may wait for its lock on the task table. Everyone's statements on the table
 * queue behind a waiting DROP, so the wait is short; a drop that times out is tried again at the next sweep.
 */
export const DROP_LOCK_WAIT_MS = 200;

export interface RetentionSweep {
  /** The partitions dropped whole. */
  dropped: string[];
  /** Tasks deleted one by one. */
  deleted: number;
}

/**
 * Retention: finished tasks older than `maxAgeMs` go, so that a week at full speed does not grow the table (and
 * the claim) without bound. A time partition whose tasks all ended before that is dropped whole: no row is
 * deleted, no dead tuple left, no index to clean. Rows are deleted one by one only where a partition cannot go
 * whole — the old tasks' partition, the default one, and a time partition that still holds a task not ended (a
 * task scheduled far ahead, say) — a batch per statement with a breath between batches. Stops between
 * statements as soon as `signal` aborts.
 */
export async function sweepRetention(
  store: TaskStore,
  maxAgeMs: number,
  bus: EventBus,
  signal: AbortSignal,
): Promise<RetentionSweep> {
  const sweep: RetentionSweep = { dropped: [], deleted: 0 };
  try {
    const rowByRow: string[] = [];
    for (const p of await store.taskPartitions(maxAgeMs, { signal })) {
      if (signal.aborted) return sweep;
      if (p.lower_bound === null) rowByRow.push(p.name);
      else if (p.expired) {
        const dropped = await dropPartition(store, p.name, maxAgeMs, signal);
        if (dropped === true) sweep.dropped.push(p.name);
        else if (dropped === false) rowByRow.push(p.name);
      }
    }
    for (const name of rowByRow) {
      while (!signal.aborted) {
        const deleted = await store.taskDeleteFinished(name, maxAgeMs, RETENTION_BATCH, { signal });
        sweep.deleted += deleted;
        if (deleted < RETENTION_BATCH) break;
        await pause(50, signal);
      }
    }
  } finally {
    if (sweep.dropped.length > 0) {
      bus.emit('retention.dropped', { partitions: sweep.dropped, maxAgeMs });
    }
    if (sweep.deleted > 0) bus.emit('retention.deleted', { deleted: sweep.deleted, maxAgeMs });
  }
  return sweep;
}

/** True: dropped; false: it holds a task that must stay; undefined: its lock was not had in time (next sweep). */
async function dropPartition(
  store: TaskStore,
  name: string,
  maxAgeMs: number,
  signal: AbortSignal,
): Promise<boolean | undefined> {
  try {
    return await store.taskPartitionDrop(name, maxAgeMs, DROP_LOCK_WAIT_MS, { signal });
  } catch (err) {
    if (isLockTimeout(err)) return undefined;
    throw err;
  }
}
