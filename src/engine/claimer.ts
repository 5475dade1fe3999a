import { DbAbortedError, isTransientDbError } from '../db/errors.js';
import type { TaskStore } from '../db/store.js';
import type { ClaimedTask } from '../domain/task.js';
import { Backoff, jitter, pause } from '../lifecycle/backoff.js';
import type { Slots } from './slots.js';

export interface ClaimerOptions {
  store: TaskStore;
  slots: Slots;
  /** The worker id claims are made under; '' while the process has none. */
  workerId: () => string;
  pollIntervalMs: number;
  /** Largest number of tasks taken by one claim statement. */
  maxBatch: number;
  /** Hands over what a claim took, with the owner it was claimed under. Its slots are taken. */
  onClaimed: (tasks: ClaimedTask[], owner: string) => void;
  /** A claim failed for a reason worth retrying (the database is away); the loop goes on. */
  onClaimFailed: (err: unknown) => void;
}

/**
 * The claim loop: takes the oldest queued tasks into free slots — never more than are free — whenever it is woken
 * (a notification of new tasks, a slot freed after a full claim) or its jittered poll comes round. `run(signal)`
 * returns when the signal aborts; a claim in flight then is given up at once (its connection is dropped; if it
 * had committed, its tasks run under this worker and shutdown fails them with the rest).
 */
export class Claimer {
  private wakePending = false;
  private wakeLoop: (() => void) | undefined;
  private limited = false;
  /** The last claim came back with room to spare: nothing was left queued for this worker then. */
  private lastShort = false;
  private limitedCheckedAt = -Infinity;

  constructor(private readonly options: ClaimerOptions) {}

  /**
   * Whether a new task may start without a claim (direct dispatch) and pass no task queued before it: the last
   * claim found fewer tasks than it had room for, and no notification of new ones has come since. A claim in
   * flight meanwhile holds slots of its own.
   */
  get mayStartNew(): boolean {
    return this.lastShort && !this.wakePending;
  }

  /** Called for each notification, and whenever the loop should look again. */
  wake(): void {
    this.wakePending = true;
    const w = this.wakeLoop;
    this.wakeLoop = undefined;
    w?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    const { store, slots, maxBatch, pollIntervalMs } = this.options;
    const backoff = new Backoff(50, 2000);
    const onAbort = () => this.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        if (slots.free <= 0) {
          await slots.whenFree(signal);
          continue;
        }
        const limit = Math.min(slots.free, maxBatch);
        this.wakePending = false;
        // The owner is the id the claim is made under, not whatever id the worker has when the claim returns.
        const owner = this.options.workerId();
        let claimed = 0;
        let failed = false;
        // The claim's slots are taken before it is sent, so that creates started meanwhile (mayStartNew) never
        // take the same ones; those it did not fill are free again after it.
        slots.take(limit);
        try {
          // Each claim's tasks are handed over as soon as it commits: they are this worker's from then on, and
          // neither waits for the claim from limited queues (a transaction of its own) nor is left unstarted
          // when that one fails.
          if (owner)
            claimed += this.handOver(await store.taskClaimAvailable(owner, limit, { signal }), owner);
          if (owner && claimed < limit && (await this.limitedQueuesExist())) {
            claimed += this.handOver(await store.taskClaimLimited(owner, limit - claimed, { signal }), owner);
          }
          backoff.reset();
          this.lastShort = claimed < limit;
        } catch (err) {
          if (err instanceof DbAbortedError) return;
          // Anything but an outage is a bug: let the loop crash, and its supervisor decide.
          if (!isTransientDbError(err)) throw err;
          this.options.onClaimFailed(err);
          failed = true;
        } finally {
          slots.release(limit - claimed);
        }
        if (failed) {
          await pause(backoff.nextDelay(), signal);
          continue;
        }
        // A full claim means more may be waiting: claim again as soon as there are free slots.
        if (claimed === limit || this.wakePending) continue;
        await this.idle(jitter(pollIntervalMs));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Hands what a claim took (its slots are taken) to the engine; how many that was. */
  private handOver(tasks: ClaimedTask[], owner: string): number {
    if (tasks.length > 0) this.options.onClaimed(tasks, owner);
    return tasks.length;
  }

  /**
   * Whether any queue has a concurrency limit (those are claimed apart, in a transaction of their own). Asked at
   * most once a second: a limit set meanwhile is seen within that second.
   */
  private async limitedQueuesExist(): Promise<boolean> {
    const now = performance.now();
    if (now - this.limitedCheckedAt >= 1000) {
      this.limited = await this.options.store.queueAnyLimited();
      this.limitedCheckedAt = now;
    }
    return this.limited;
  }

  private idle(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeLoop = undefined;
        resolve();
      }, ms);
      this.wakeLoop = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
