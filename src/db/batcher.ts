/**
 * Group commit: callers add one item each and wait for it; items that arrive while a flush is running are
 * written together by the next one. At low load an item is flushed alone at once (no added latency); under
 * load, batches grow by themselves and one statement serves many callers.
 */
export interface BatcherOptions {
  /** Largest batch written by one flush. */
  maxBatch: number;
  /** Flushes running at once (each holds one database connection). */
  maxConcurrent: number;
}

interface Pending<In, Out> {
  item: In;
  resolve: (value: Out) => void;
  reject: (err: unknown) => void;
}

export class Batcher<In, Out> {
  private queue: Pending<In, Out>[] = [];
  private active = 0;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];

  /** `flush` returns one result per item, in order. */
  constructor(
    private readonly flush: (items: In[]) => Promise<Out[]>,
    private readonly options: BatcherOptions,
  ) {}

  add(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything added so far has been flushed (or has failed). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every request whose bytes arrived in this turn of the event loop joins the
    // batch before it is written.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.queue.length > 0 && this.active < this.options.maxConcurrent) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.active++;
      this.flush(batch.map((p) => p.item))
        .then(
          (results) => batch.forEach((p, i) => p.resolve(results[i] as Out)),
          (err: unknown) => batch.forEach((p) => p.reject(err)),
        )
        .finally(() => {
          this.active--;
          if (this.queue.length > 0) this.drain();
          else if (this.active === 0) this.idleWaiters.splice(0).forEach((w) => w());
        });
    }
  }
}
