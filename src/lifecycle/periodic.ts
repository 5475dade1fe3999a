import { jitter } from './backoff.js';

/**
 * Runs `tick` again and again, `intervalMs` (jittered) after the previous tick ended, until stopped. A tick never
 * overlaps the next one, and a failing tick is reported and tried again at the next interval.
 *
 * The start/stop contract of every long-running part: `start()` twice starts one loop; `stop()` twice, or before
 * `start()`, is fine. `stop()` aborts the signal the running tick was given (its statements are given up at once)
 * and waits for the tick to return, so nothing of it is left running, and no timer either.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly stopped = new AbortController();
  private started = false;

  constructor(
    private readonly intervalMs: number,
    private readonly tick: (signal: AbortSignal) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(initialDelayMs = this.intervalMs): void {
    if (this.started || this.stopped.signal.aborted) return;
    this.started = true;
    this.schedule(initialDelayMs);
  }

  /** Runs a tick now (unless one is running), then keeps the usual interval. */
  poke(): void {
    if (!this.started || this.running || this.stopped.signal.aborted) return;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick(this.stopped.signal)
        .catch((err: unknown) => {
          if (!this.stopped.signal.aborted) this.onError(err);
        })
        .finally(() => {
          this.running = undefined;
          this.schedule(jitter(this.intervalMs, 0.1));
        });
    }, delayMs);
    // Periodic timers alone must not keep a process alive.
    this.timer.unref();
  }
}
