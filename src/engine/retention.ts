import type { TaskStore } from '../db/store.js';
import type { Logger } from '../logger.js';
import { pause } from './backoff.js';
import { Periodic } from './periodic.js';

const BATCH = 1000;
const EVERY_MS = 60_000;

/**
 * Deletes finished tasks older than the retention age, a small batch per statement with a breath between
 * batches, so that a week at full speed does not grow the table (and the claim query) without bound.
 */
export class Retention {
  private readonly periodic: Periodic;

  constructor(
    private readonly store: TaskStore,
    private readonly maxAgeMs: number,
    private readonly log: Logger,
  ) {
    this.periodic = new Periodic('retention', EVERY_MS, async () => void (await this.sweep()), log);
  }

  start(): void {
    this.periodic.start(5_000);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** Deletes everything past the retention age; returns how many tasks it deleted. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.store.taskDeleteFinishedBefore(this.maxAgeMs, BATCH);
      total += deleted;
      if (deleted < BATCH) break;
      await pause(50);
    }
    if (total > 0)
      this.log.info({ deleted: total, max_age_ms: this.maxAgeMs }, 'retention: deleted finished tasks');
    return total;
  }
}
