/**
 * The engine's slots. A slot is taken when a claim returns a task (or a create starts one) and counts twice:
 *
 * - as an execution, until the task's outcome is in and its handler has returned (`ran`): a handler that ignores
 *   its abort signal keeps its slot while it runs, so that no more handlers run at once than `capacity`;
 * - as a task held, until its outcome has been stored or discarded (`stored`): at most `heldCapacity`.
 *
 * The second budget is larger (twice the first by default), so that the next claim need not wait for the last
 * claim's outcomes to be written: new handlers start while the database stores what the ones before returned.
 * It keeps a slow database from gathering more outcomes in memory than one more process's worth. A slot given
 * back unused (a claim that took fewer tasks than it had room for, runs never started) is `release`d from both.
 */
export class Slots {
  private executing = 0;
  private held = 0;
  private freeWaiters: (() => void)[] = [];

  constructor(
    readonly capacity: number,
    readonly heldCapacity = 2 * capacity,
  ) {}

  get free(): number {
    return Math.min(this.capacity - this.executing, this.heldCapacity - this.held);
  }

  take(n: number): void {
    this.executing += n;
    this.held += n;
  }

  /** Gives back `n` slots (one by default) that no run used, or whose runs were given up unstored. */
  release(n = 1): void {
    if (n <= 0) return;
    this.executing -= n;
    this.held -= n;
    this.freed(n);
  }

  /** A run's outcome is in and its handler has returned: its execution is over; the outcome may be unstored. */
  ran(): void {
    this.executing--;
    this.freed(1);
  }

  /** A run's outcome has been stored (or discarded): the task is no longer held. */
  stored(): void {
    this.held--;
    this.freed(1);
  }

  /** Resolves when a slot is free, or when `signal` aborts. */
  whenFree(signal: AbortSignal): Promise<void> {
    if (this.free > 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.freeWaiters = this.freeWaiters.filter((w) => w !== done);
        resolve();
      };
      this.freeWaiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private freed(n: number): void {
    // Let other completions of this turn free their slots too, so that the next claim takes a batch.
    if (this.free > 0) for (const waiter of this.freeWaiters.splice(0, n)) setImmediate(waiter);
  }
}
