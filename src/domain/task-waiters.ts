import { Batcher } from '../db/batcher.js';
import { CHANNELS, type TaskRecord, type TaskStore } from '../db/store.js';
import type { Notifier } from '../notify/notifier.js';
import { TERMINAL_STATES, type TaskState } from './task.js';

const terminal: ReadonlySet<TaskState> = new Set(TERMINAL_STATES);

/** A task in a state it does not leave (except through a retry by hand): a wait for its end is over. */
export const isTerminal = (task: TaskRecord): boolean => terminal.has(task.state);

/** Longest `?wait=` a client may ask for, in seconds. */
export const MAX_WAIT_S = 60;

/** Most ids read again by one statement. */
const READ_BATCH = 1000;

/** First reads (see `read`) running at once; each holds one connection. */
const FIRST_READS_AT_ONCE = 2;

/** How long to wait before reading again after a read failed (the database is away). */
const RETRY_READ_MS = 1000;

/** Someone following one task: hears it as it is after each change, and when the process shuts down. */
export interface TaskWatcher {
  onTask(task: TaskRecord): void;
  /** The process is shutting down: answer now. After it, nothing more is heard. */
  onClose(): void;
}

/**
 * Everyone in this process who waits on tasks (long-polls, event streams), woken by notifications rather than by
 * reading the database on a timer. Every statement that changes a task's state, attempt or progress announces
 * the task's id on `taskd_task_changed`; the notifier (one LISTEN per process) hands the ids here, and the tasks
 * that anyone here follows are read again, all of a notification's ids in one statement, however many watchers
 * each has. A notification that arrives while a read is in flight is read after it, together with any others.
 * After the notifier (re)connects, every followed task is read again: what was announced meanwhile was missed.
 *
 * Lifecycle: `start()` subscribes; `close()` reads every followed task once more, hands it to its watchers and
 * tells them to answer, so that no request is left open when the listener closes.
 */
export class TaskWaiters {
  private readonly watchers = new Map<string, Set<TaskWatcher>>();
  private readonly dirty = new Set<string>();
  private reading: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: (() => void)[] = [];
  private closed = false;
  /** The first reads of new waiters, grouped: a burst of them costs a few statements, not one each. */
  private readonly firstReads: Batcher<string, TaskRecord | undefined>;

  constructor(
    private readonly store: Pick<TaskStore, 'taskGetRecords'>,
    private readonly notifier: Notifier,
    private readonly onReadFailed: (err: unknown) => void,
  ) {
    this.firstReads = new Batcher(
      async (ids) => {
        const byId = new Map((await this.store.taskGetRecords([...new Set(ids)])).map((t) => [t.id, t]));
        return ids.map((id) => byId.get(id));
      },
      { maxBatch: READ_BATCH, maxConcurrent: FIRST_READS_AT_ONCE },
    );
  }

  start(): void {
    if (this.closed || this.unsubscribe.length > 0) return;
    this.unsubscribe.push(
      this.notifier.subscribe(CHANNELS.taskChanged, (payload) => this.changed(payload.split(','))),
      this.notifier.onConnect(() => this.changed([...this.watchers.keys()])),
    );
  }

  /** Watchers in this process right now. */
  get size(): number {
    let n = 0;
    for (const set of this.watchers.values()) n += set.size;
    return n;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Follows task `id`: `watcher` hears the task after each change from now on. Returns the function that stops
   * it. The caller reads the task itself after watching (see `read`), so that no change falls between.
   */
  watch(id: string, watcher: TaskWatcher): () => void {
    if (this.closed) {
      queueMicrotask(() => watcher.onClose());
      return () => {};
    }
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(watcher);
    return () => {
      set.delete(watcher);
      if (set.size === 0 && this.watchers.get(id) === set) this.watchers.delete(id);
    };
  }

  /**
   * One task as it is now (undefined: no such task). Reads asked for in the same turn of the event loop, or
   * while earlier ones are in flight, are made together, in one statement.
   */
  read(id: string): Promise<TaskRecord | undefined> {
    return this.firstReads.add(id);
  }

  /**
   * The task once it is terminal, or as it is when `ms` have passed, the process shuts down, or `signal` aborts
   * (the client went away). Undefined when there is no such task.
   */
  async waitForEnd(id: string, ms: number, signal?: AbortSignal): Promise<TaskRecord | undefined> {
    let latest: TaskRecord | undefined;
    let answer: (task: TaskRecord) => void = () => {};
    const answered = new Promise<TaskRecord>((resolve) => (answer = resolve));
    const unwatch = this.watch(id, {
      onTask: (task) => {
        latest = task;
        if (isTerminal(task)) answer(task);
      },
      onClose: () => latest && answer(latest),
    });
    try {
      const first = await this.read(id);
      if (!first) return undefined;
      // A change heard during the read is newer than what the read saw.
      latest ??= first;
      if (isTerminal(latest) || ms <= 0 || this.closed || signal?.aborted) return latest;
      const timer = setTimeout(() => answer(latest!), ms);
      const onAbort = () => answer(latest!);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        return await answered;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    } finally {
      unwatch();
    }
  }

  /** Hands every watcher its task as it is now, then tells them all to answer; later watches answer at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe.splice(0).forEach((off) => off());
    clearTimeout(this.retryTimer);
    await this.reading;
    try {
      await this.readAndDeliver([...this.watchers.keys()]);
    } catch (err) {
      // Each watcher answers with what it saw last.
      this.onReadFailed(err);
    }
    const all = [...this.watchers.values()].flatMap((set) => [...set]);
    this.watchers.clear();
    for (const watcher of all) watcher.onClose();
  }

  private changed(ids: readonly string[]): void {
    if (this.closed) return;
    for (const id of ids) if (this.watchers.has(id)) this.dirty.add(id);
    this.flush();
  }

  private flush(): void {
    if (this.reading || this.retryTimer || this.dirty.size === 0 || this.closed) return;
    const ids = [...this.dirty];
    this.dirty.clear();
    this.reading = this.readAndDeliver(ids)
      .catch((err: unknown) => {
        this.onReadFailed(err);
        // Read them again in a moment: their watchers have not heard the change.
        for (const id of ids) if (this.watchers.has(id)) this.dirty.add(id);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.flush();
        }, RETRY_READ_MS);
        this.retryTimer.unref();
      })
      .finally(() => {
        this.reading = undefined;
        this.flush();
      });
  }

  private async readAndDeliver(ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += READ_BATCH) {
      const tasks = await this.store.taskGetRecords(ids.slice(i, i + READ_BATCH));
      for (const task of tasks) {
        for (const watcher of [...(this.watchers.get(task.id) ?? [])]) {
          try {
            watcher.onTask(task);
          } catch {
            // One watcher's failure is its own; the others still hear.
          }
        }
      }
    }
  }
}
