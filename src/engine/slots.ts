/**
 * The engine's execution slots. A slot is taken when a claim returns a task and given back only when both the
 * task's outcome has been stored (or discarded) and its handler has returned: a handler that ignores its abort
 * signal keeps its slot while it runs, so `free` never claims more work than the process really has room for.
 */
export class Slots {
  private used = 0;
  private freeWaiters: (() => void)[] = [];
  private emptyWaiters: (() => void)[] = [];

  constructor(readonly capacity: number) {}

  get free(): number {
    return this.capacity - this.used;
  }

  take(n: number): void {
    this.used += n;
  }

  /** Gives back `n` slots (one by default). */
  release(n = 1): void {
    if (n <= 0) return;
    this.used -= n;
    // Let other completions of this turn free their slots too, so that the next claim takes a batch.
    for (const waiter of this.freeWaiters.splice(0, n)) setImmediate(waiter);
    if (this.used === 0) this.emptyWaiters.splice(0).forEach((w) => w());
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

  /** Resolves when no slot is in use. */
  whenEmpty(): Promise<void> {
    if (this.used === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }
}
