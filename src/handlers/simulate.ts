import { setTimeout as sleep } from 'node:timers/promises';
import type { Handler } from './registry.js';

/** Most progress reports a `simulate` run makes, however many its input asks for. */
const MAX_STEPS = 100_000;

/**
 * The default handler: stands for I/O-bound work. It waits a random time in [minMs, maxMs], stops at once when
 * its signal is aborted, and says what it did. A v1 input of `{"steps": N}` makes it report its progress N times,
 * evenly over its wait (to try out progress, and the cost of a chatty handler); other inputs report none.
 */
export function simulateHandler(minMs: number, maxMs: number): Handler {
  return async (input, ctx) => {
    const ms = minMs + Math.floor(Math.random() * (maxMs - minMs + 1));
    const steps = progressSteps(input);
    if (steps === 0) {
      await sleep(ms, undefined, { signal: ctx.signal });
    } else {
      const start = performance.now();
      for (let i = 1; i <= steps; i++) {
        // Against the start, not step by step, so that the timers' slack does not add up.
        await sleep(Math.max(0, start + (ms * i) / steps - performance.now()), undefined, {
          signal: ctx.signal,
        });
        ctx.progress((100 * i) / steps, `step ${i} of ${steps}`);
      }
    }
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    return `processed task ${JSON.stringify(truncate(text, 200))} in ${ms} ms`;
  };
}

function progressSteps(input: unknown): number {
  const steps = (input as { steps?: unknown } | null)?.steps;
  return Number.isInteger(steps) && (steps as number) > 0 ? Math.min(steps as number, MAX_STEPS) : 0;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
