import { Batcher } from '../db/batcher.js';
import { describeDbError, isTransientDbError } from '../db/pool.js';
import type { SettleRow, TaskStore } from '../db/store.js';
import type { Logger } from '../logger.js';
import { Backoff, pause } from './backoff.js';

/**
 * Writes outcomes, many per statement. Each write is fenced by (owner, attempt): `settle` resolves to false when
 * the run had already been failed by someone else (lease lost, shutdown), and then nothing was written.
 * Database blips are retried with backoff for up to `retryForMs`; after that the lease has expired anyway and
 * another process fails the task.
 */
export class Settler {
  private readonly batcher: Batcher<SettleRow, boolean>;

  constructor(
    private readonly store: TaskStore,
    private readonly log: Logger,
    retryForMs: number,
  ) {
    this.batcher = new Batcher((rows) => this.write(rows, retryForMs), { maxBatch: 1000, maxConcurrent: 2 });
  }

  settle(row: SettleRow): Promise<boolean> {
    return this.batcher.add(row);
  }

  /** Resolves when every outcome handed in so far is written or given up. */
  idle(): Promise<void> {
    return this.batcher.idle();
  }

  private async write(rows: SettleRow[], retryForMs: number): Promise<boolean[]> {
    const giveUpAt = Date.now() + retryForMs;
    const backoff = new Backoff(50, 1000);
    for (;;) {
      try {
        const written = await this.store.taskSettleMany(rows);
        return rows.map((r) => written.has(r.id));
      } catch (err) {
        if (!isTransientDbError(err) || Date.now() >= giveUpAt) {
          this.log.error({ err: describeDbError(err), tasks: rows.length }, 'could not write task outcomes');
          return rows.map(() => false);
        }
        this.log.warn(
          { err: describeDbError(err), tasks: rows.length },
          'writing task outcomes failed; retrying',
        );
        await pause(backoff.nextDelay());
      }
    }
  }
}
