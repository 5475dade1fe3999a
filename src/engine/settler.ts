import { Batcher } from '../db/batcher.js';
import { DbAbortedError, isTransientDbError } from '../db/errors.js';
import type { SettleRow, TaskStore } from '../db/store.js';
import { unstorable } from '../domain/outcome.js';
import type { EventBus } from '../events/bus.js';
import { Backoff, pause } from '../lifecycle/backoff.js';

/**
 * What became of one decision handed to the settler: written; replaced (the database rejected it, and the run was
 * failed as unstorable instead); fenced off (someone else had ended the run: lease lost, shutdown); not storable
 * even as a failure; or abandoned unwritten at shutdown.
 */
export type SettleResult = 'written' | 'replaced' | 'fenced' | 'unwritable' | 'abandoned';

/**
 * Writes the decisions of ended runs, many per statement. Each write is fenced by (owner, attempt).
 *
 * Through database trouble it retries for as long as it takes: while this process keeps its lease nobody else
 * will end the task, so giving up would leave it "in progress" for good. Only shutdown abandons what is still
 * unwritten (`abandon()`), and shutdown then fails those tasks, or their lease expires.
 *
 * A row the database rejects for itself (not for an outage) must not take its batch down with it: the batch is
 * split in halves until the poison row stands alone, the others are written, and the poison row is written
 * once more as a failure whose Result says its outcome could not be stored.
 */
export class Settler {
  private readonly batcher: Batcher<SettleRow, SettleResult>;
  private readonly abandoned = new AbortController();

  constructor(
    private readonly store: TaskStore,
    private readonly bus: EventBus,
  ) {
    this.batcher = new Batcher((rows) => this.write(rows), { maxBatch: 2000, maxConcurrent: 1 });
  }

  settle(row: SettleRow): Promise<SettleResult> {
    return this.batcher.add(row);
  }

  /** Resolves when every decision handed in so far is written or abandoned. */
  idle(): Promise<void> {
    return this.batcher.idle();
  }

  /** Stop retrying, and give up statements in flight: decisions not yet written resolve to 'abandoned'. */
  abandon(): void {
    this.abandoned.abort();
  }

  private async write(rows: SettleRow[]): Promise<SettleResult[]> {
    const signal = this.abandoned.signal;
    const backoff = new Backoff(50, 2000);
    let failures = 0;
    while (!signal.aborted) {
      try {
        const written = await this.store.taskSettleMany(rows, { signal });
        if (failures > 0) this.bus.emit('settle.recovered', { tasks: rows.length, failures });
        return rows.map((r) => (written.has(r.id) ? 'written' : 'fenced'));
      } catch (err) {
        if (err instanceof DbAbortedError) break;
        if (!isTransientDbError(err)) return this.isolate(rows, err);
        failures++;
        this.bus.emit('settle.retrying', { tasks: rows.length, failures, err });
        await pause(backoff.nextDelay(), signal);
      }
    }
    return rows.map(() => 'abandoned');
  }

  /** The database rejected `rows` (not an outage): find the rows it rejects, and write the rest. */
  private async isolate(rows: SettleRow[], err: unknown): Promise<SettleResult[]> {
    if (rows.length > 1) {
      const half = Math.ceil(rows.length / 2);
      const first = await this.write(rows.slice(0, half));
      const second = await this.write(rows.slice(half));
      return [...first, ...second];
    }
    const [row] = rows as [SettleRow];
    this.bus.emit('settle.rejected', { tasks: 1, err });
    if (row.decision === unstorable) return ['unwritable'];
    // Still end the run, as failed, so that it does not stay "in progress" under a live lease.
    const [result] = await this.write([{ ...row, decision: unstorable }]);
    return [result === 'written' ? 'replaced' : (result ?? 'unwritable')];
  }
}
