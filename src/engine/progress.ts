import { DbAbortedError } from '../db/errors.js';
import type { ProgressRow, TaskStore } from '../db/store.js';
import type { EventBus } from '../events/bus.js';

/** Longest stored progress message, in UTF-16 code units; longer ones are cut (a progress line, not a log). */
export const MAX_PROGRESS_MESSAGE_LENGTH = 1000;

/** Largest number of runs whose progress one statement writes. */
const MAX_BATCH = 5000;

/** How long the last progress of an ending run may hold up its outcome when the database does not answer. */
const FINAL_WRITE_DEADLINE_MS = 5000;

export interface Progress {
  percent: number | null;
  message: string | null;
}

/**
 * What a handler passed to `ctx.progress`, as it is stored: a percent outside 0–100 is clamped, a message is cut
 * to MAX_PROGRESS_MESSAGE_LENGTH and made storable (PostgreSQL text holds no NUL and jsonb no lone surrogate, and
 * one unstorable value would fail the whole batch). Values of the wrong type are refused: undefined.
 */
export function normaliseProgress(percent: unknown, message: unknown): Progress | undefined {
  let p: number | null;
  if (percent === null || percent === undefined) p = null;
  else if (typeof percent === 'number' && !Number.isNaN(percent)) p = Math.min(100, Math.max(0, percent));
  else return undefined;
  let m: string | null;
  if (message === null || message === undefined) m = null;
  else if (typeof message === 'string')
    m = message.replaceAll('\u0000', '').slice(0, MAX_PROGRESS_MESSAGE_LENGTH).toWellFormed();
  else return undefined;
  return { percent: p, message: m };
}

export interface ProgressWriterOptions {
  store: TaskStore;
  bus: EventBus;
  /** At most one write per run per interval (PROGRESS_INTERVAL_MS), plus the last one when the run ends. */
  intervalMs: number;
}

/**
 * Coalesces handlers' progress: only the latest value of each run is kept, and one statement per interval writes
 * those of every run that reported meanwhile, so a handler that reports a thousand times a second costs one row
 * update per interval. The first report after a quiet interval is written at once (the interval counts from the
 * last write), so progress shows without a delay.
 *
 * When a run ends, its last unwritten value is written before its outcome (`end`), or the interval write that
 * holds it is waited for, so that the task keeps the last thing its handler said. Writes run one at a time, so an
 * older value never lands after a newer one. Progress is best-effort: a write the database refuses for an outage
 * is tried again at the next interval (unless a newer value came meanwhile); a run's last write is tried once.
 */
export class ProgressWriter {
  private readonly pending = new Map<string, ProgressRow>();
  private readonly ending: { row: ProgressRow; written: () => void }[] = [];
  /** Runs whose latest value is in the interval write under way, and that write (it never rejects). */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private endingScheduled = false;
  private flushing = false;
  private lastFlushAt = -Infinity;
  private failures = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly options: ProgressWriterOptions) {}

  /** Keeps `row` as its run's latest progress, replacing any unwritten one. */
  report(row: ProgressRow): void {
    if (this.stopping.signal.aborted) return;
    this.pending.set(row.id, row);
    this.arm();
  }

  /**
   * The run of `taskId` ended. With `write`, its unwritten progress is written now, and the promise resolves once
   * that is done (or failed): the caller writes the outcome after it. Without, it is dropped (the run was lost or
   * aborted, and its progress would be fenced off anyway). Never rejects.
   */
  end(taskId: string, write: boolean): Promise<void> {
    const row = this.pending.get(taskId);
    if (!row) {
      // Its last value may be in the interval write under way: the outcome waits for it (or it would fence it
      // off), but no longer than for a final write.
      const flushing = write ? this.inFlight.get(taskId) : undefined;
      return flushing ? within(flushing, FINAL_WRITE_DEADLINE_MS) : Promise.resolve();
    }
    this.pending.delete(taskId);
    if (!write || this.stopping.signal.aborted) return Promise.resolve();
    return new Promise((written) => {
      this.ending.push({ row, written });
      if (this.endingScheduled) return;
      this.endingScheduled = true;
      // Runs that end in the same turn of the event loop share one statement.
      setImmediate(() => {
        this.endingScheduled = false;
        const batch = this.ending.splice(0);
        void this.serial(async () => {
          try {
            await this.write(
              batch.map((e) => e.row),
              FINAL_WRITE_DEADLINE_MS,
            );
          } catch (err) {
            if (!(err instanceof DbAbortedError)) this.failed(batch.length, err);
          } finally {
            batch.forEach((e) => e.written());
          }
        });
      });
    });
  }

  /** Drops what is unwritten, gives up a statement in flight, and waits for it. Stopping twice is fine. */
  async stop(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    this.ending.splice(0).forEach((e) => e.written());
    await this.tail;
  }

  private arm(): void {
    if (this.timer || this.flushing || this.pending.size === 0 || this.stopping.signal.aborted) return;
    const wait = Math.max(0, this.lastFlushAt + this.options.intervalMs - performance.now());
    this.timer = setTimeout(() => void this.flush(), wait);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    this.flushing = true;
    this.lastFlushAt = performance.now();
    const rows = [...this.pending.values()];
    this.pending.clear();
    const written = this.serial(async () => {
      try {
        for (let i = 0; i < rows.length; i += MAX_BATCH) await this.write(rows.slice(i, i + MAX_BATCH));
        this.failures = 0;
      } catch (err) {
        if (err instanceof DbAbortedError || this.stopping.signal.aborted) return;
        this.failed(rows.length, err);
        // Tried again at the next interval, unless the run reported anew meanwhile (the newer value wins). A run
        // that ended meanwhile is fenced off then, its outcome being written.
        for (const row of rows) if (!this.pending.has(row.id)) this.pending.set(row.id, row);
      }
    });
    for (const row of rows) this.inFlight.set(row.id, written);
    await written;
    for (const row of rows) if (this.inFlight.get(row.id) === written) this.inFlight.delete(row.id);
    this.flushing = false;
    this.arm();
  }

  private async write(rows: ProgressRow[], deadlineMs?: number): Promise<void> {
    const written = await this.options.store.taskProgressMany(rows, {
      signal: this.stopping.signal,
      ...(deadlineMs !== undefined && { deadlineMs }),
    });
    this.options.bus.emit('task.progress', { taskIds: [...written], fenced: rows.length - written.size });
  }

  private failed(tasks: number, err: unknown): void {
    this.failures++;
    this.options.bus.emit('progress.failed', { tasks, failures: this.failures, err });
  }

  /** Runs `job` after every write before it: one statement at a time, in order. */
  private serial(job: () => Promise<void>): Promise<void> {
    const next = this.tail.then(job);
    this.tail = next.catch(() => {});
    return next;
  }
}

/** `promise`, or nothing once `ms` have passed. */
function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
