import { Batcher } from '../db/batcher.js';
import { describeDbError, isTransientDbError } from '../db/pool.js';
import type { SettleRow, TaskStore } from '../db/store.js';
import { outcomes } from '../domain/task.js';
import type { Logger } from '../logger.js';
import { Backoff, pause } from './backoff.js';

export const UNSTORABLE_RESULT = 'failed: the task finished but its outcome could not be stored';

/**
 * Writes outcomes, many per statement. Each write is fenced by (owner, attempt): `settle` resolves to false when
 * the run had already been failed by someone else (lease lost, shutdown), and then nothing was written.
 *
 * Through database trouble it retries for as long as it takes: while this process keeps its lease nobody else
 * will finish the task, so giving up would leave it "in progress" for good. Only shutdown abandons what is
 * still unwritten (`abandon()`), and shutdown then fails those tasks, or their lease expires.
 */
export class Settler {
  private readonly batcher: Batcher<SettleRow, boolean>;
  private readonly abandoned = new AbortController();

  constructor(
    private readonly store: TaskStore,
    private readonly log: Logger,
  ) {
    this.batcher = new Batcher((rows) => this.write(rows), { maxBatch: 2000, maxConcurrent: 1 });
  }

  settle(row: SettleRow): Promise<boolean> {
    return this.batcher.add(row);
  }

  /** Resolves when every outcome handed in so far is written or abandoned. */
  idle(): Promise<void> {
    return this.batcher.idle();
  }

  /** Stop retrying: outcomes not yet written resolve to false. */
  abandon(): void {
    this.abandoned.abort();
  }

  private async write(rows: SettleRow[]): Promise<boolean[]> {
    const backoff = new Backoff(50, 2000);
    let failures = 0;
    let attempt = rows;
    while (!this.abandoned.signal.aborted) {
      try {
        const written = await this.store.taskSettleMany(attempt);
        if (failures > 0)
          this.log.info({ tasks: rows.length, failures }, 'task outcomes written after retrying');
        return attempt.map((r) => written.has(r.id));
      } catch (err) {
        failures++;
        if (!isTransientDbError(err)) {
          if (attempt === rows) {
            // Something in these outcomes cannot be stored: still end the runs, as failed.
            this.log.error(
              { err: describeDbError(err), tasks: rows.length },
              'task outcomes rejected; failing the tasks',
            );
            attempt = rows.map((r) => ({ ...r, outcome: outcomes.failed('error', UNSTORABLE_RESULT) }));
            continue;
          }
          this.log.error({ err: describeDbError(err), tasks: rows.length }, 'could not write task outcomes');
          return rows.map(() => false);
        }
        if (failures === 1 || failures % 20 === 0) {
          this.log.warn(
            { err: describeDbError(err), tasks: rows.length, failures },
            'writing task outcomes failed; retrying',
          );
        }
        await pause(backoff.nextDelay(), this.abandoned.signal);
      }
    }
    this.log.warn({ tasks: rows.length }, 'shutdown: task outcomes abandoned unwritten');
    return rows.map(() => false);
  }
}
