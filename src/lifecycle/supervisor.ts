import { Backoff, pause } from './backoff.js';

export interface SuperviseOptions {
  /** Stops the loop (and the supervision) for good. */
  signal: AbortSignal;
  /** Crashes tolerated within `windowMs`; one more and the supervisor gives up. */
  maxCrashes?: number;
  windowMs?: number;
  /** Called for each crash; `giveUp` is true for the last one. */
  onCrash: (err: unknown, restart: number, giveUp: boolean) => void;
  /** Called when the loop runs (again): the part it belongs to is healthy from here on. */
  onRunning?: () => void;
}

/**
 * Keeps a loop that should run until stopped running. A loop that throws, or returns while not stopped, has
 * crashed: it is restarted after a backoff, and if it keeps crashing the supervisor gives up (the process must
 * then stop rather than live on as a zombie that holds its lease and claims nothing). Resolves when the loop is
 * stopped or given up.
 */
export async function supervise(
  loop: (signal: AbortSignal) => Promise<void>,
  options: SuperviseOptions,
): Promise<void> {
  const { signal, maxCrashes = 5, windowMs = 60_000 } = options;
  const backoff = new Backoff(100, 5000);
  let crashes: number[] = [];
  let restarts = 0;
  while (!signal.aborted) {
    let error: unknown;
    try {
      options.onRunning?.();
      await loop(signal);
      if (signal.aborted) return;
      error = new Error('the loop returned while it should still run');
    } catch (err) {
      if (signal.aborted) return;
      error = err;
    }
    const now = performance.now();
    crashes = [...crashes.filter((t) => now - t < windowMs), now];
    const giveUp = crashes.length > maxCrashes;
    options.onCrash(error, ++restarts, giveUp);
    if (giveUp) return;
    await pause(backoff.nextDelay(), signal);
  }
}
