import { setTimeout as sleep } from 'node:timers/promises';

/** Exponential backoff with full jitter, for loops that retry through database trouble. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 50,
    private readonly maxMs = 2000,
  ) {}

  nextDelay(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.random() * cap;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Sleeps, but wakes early (without throwing) when the signal aborts. */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    // aborted: the caller checks its signal
  }
}

/** `ms` ± `fraction`, so that processes started together do not poll in lockstep. */
export function jitter(ms: number, fraction = 0.2): number {
  return ms * (1 - fraction + Math.random() * 2 * fraction);
}
