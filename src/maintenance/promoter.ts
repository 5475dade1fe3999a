import type { TaskStore } from '../db/store.js';

/** Tasks made runnable by one statement: a burst of due retries is promoted in a few quick statements. */
const BATCH = 1000;

/**
 * Makes scheduled tasks whose run_at has come runnable (`scheduled` → `queued`), oldest first, and wakes the
 * claimers of every process through the statement's notification. Run by the maintenance leader a few times a
 * second, so that a delay or a retry backoff is kept to within that.
 */
export async function promoteDue(store: TaskStore, signal: AbortSignal): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await store.taskPromoteDue(BATCH, { signal });
    total += n;
    if (n < BATCH || signal.aborted) return total;
  }
}
