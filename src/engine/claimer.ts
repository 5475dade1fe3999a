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
  /** Claims sent at once while there is a backlog (default 1). */
  maxInFlight?: number;
  /** Hands over what a claim took, with the owner it was claimed under. Slots are already taken. */
  onClaimed: (tasks: ClaimedTask[], owner: string) => void;
  /** A claim failed for a reason worth retrying (the database is away); the loop goes on. */
  onClaimFailed: (err: unknown) => void;
}

/**
 * The claim loop: takes the oldest queued tasks into free slots — never more than are free — whenever it is woken
 * (a notification of new tasks, a slot freed after a full claim) or its jittered poll comes round. `run(signal)`
 * returns when the signal aborts and the claims in flight have returned; a claim in flight then is given up at
 * once (its connection is dropped; if it had committed, its tasks run under this worker and shutdown fails them
 * with the rest).
 *
 * While there is a backlog (the last claim took all it asked for) up to `maxInFlight` claims run at once, each on
 * slots reserved before it is sent: a claim is a round trip in which this process would otherwise sit idle while
 * the tasks of the last one are already done, and SKIP LOCKED lets concurrent claims pass over each other's rows.
 * Without a backlog one claim at a time is enough, and an idle poll costs one statement.
 */
export class Claimer {
  private wakePending = false;
  private wakeLoop: (() => void) | undefined;
  private limited = false;
  private limitedCheckedAt = -Infinity;

  constructor(private readonly options: ClaimerOptions) {}

  /** Called for each notification, and whenever the loop should look again. */
  wake(): void {
    this.wakePending = true;
    const w = this.wakeLoop;
    this.wakeLoop = undefined;
    w?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    const { slots, maxBatch, pollIntervalMs } = this.options;
    const maxInFlight = Math.max(1, this.options.maxInFlight ?? 1);
    const backoff = new Backoff(50, 2000);
    const inFlight = new Set<Promise<void>>();
    // What the claims that returned last said: a full claim means more may be waiting.
    let backlog = false;
    let retryInMs = 0;
    let crash: { err: unknown } | undefined;
    const onAbort = () => this.wake();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        // Anything but an outage is a bug: let the loop crash, and its supervisor decide.
        if (crash) throw crash.err;
        if (inFlight.size > 0 && (inFlight.size >= maxInFlight || !backlog)) {
          await Promise.race(inFlight);
          continue;
        }
        if (retryInMs > 0) {
          const ms = retryInMs;
          retryInMs = 0;
          await pause(ms, signal);
          continue;
        }
        if (slots.free <= 0) {
          await slots.whenFree(signal);
          continue;
        }
        const limit = Math.min(slots.free, maxBatch);
        this.wakePending = false;
        // The owner is the id the claim is made under, not whatever id the worker has when the claim returns.
        const owner = this.options.workerId();
        slots.take(limit);
        const claim: Promise<void> = this.claim(owner, limit, signal).then(
          (claimed) => {
            inFlight.delete(claim);
            backoff.reset();
            slots.give(limit - claimed.length);
            backlog = claimed.length === limit;
            if (claimed.length > 0) this.options.onClaimed(claimed, owner);
          },
          (err: unknown) => {
            inFlight.delete(claim);
            slots.give(limit);
            backlog = false;
            if (err instanceof DbAbortedError) return;
            if (!isTransientDbError(err)) {
              crash = { err };
              return;
            }
            this.options.onClaimFailed(err);
            retryInMs = backoff.nextDelay();
          },
        );
        inFlight.add(claim);
        // With a backlog the loop goes round at once to send the next claim beside this one.
        if (backlog) continue;
        await claim;
        if (crash || retryInMs > 0 || backlog || this.wakePending || inFlight.size > 0) continue;
        await this.idle(jitter(pollIntervalMs));
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      // Claims in flight hand their tasks over (or are given up) before the loop counts as stopped.
      await Promise.all(inFlight);
    }
  }

  /** One claim of up to `limit` tasks: the unlimited queues first, then the limited ones if any exist. */
  private async claim(owner: string, limit: number, signal: AbortSignal): Promise<ClaimedTask[]> {
    const { store } = this.options;
    if (!owner) return [];
    const claimed = await store.taskClaimAvailable(owner, limit, { signal });
    if (claimed.length < limit && (await this.limitedQueuesExist())) {
      return claimed.concat(await store.taskClaimLimited(owner, limit - claimed.length, { signal }));
    }
    return claimed;
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
