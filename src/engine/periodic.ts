import type { Logger } from '../logger.js';
import { jitter } from './backoff.js';

/**
 * Runs `tick` again and again, `intervalMs` (jittered) after the previous tick ended, until stopped. A tick never
 * overlaps the next one, and a failing tick is logged and retried at the next interval. `stop()` waits for a
 * running tick; calling it twice, or before `start()`, is fine.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  start(initialDelayMs = this.intervalMs): void {
    if (this.stopped || this.timer || this.running) return;
    this.schedule(initialDelayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick()
        .catch((err: unknown) => this.log.warn({ err, job: this.name }, `${this.name} failed; will retry`))
        .finally(() => {
          this.running = undefined;
          this.schedule(jitter(this.intervalMs, 0.1));
        });
    }, delayMs);
    // Maintenance timers alone must not keep a process alive.
    this.timer.unref();
  }
}
