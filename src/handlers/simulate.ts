import { setTimeout as sleep } from 'node:timers/promises';
import type { Handler } from './registry.js';

/** Most progress reports a `simulate` run makes, however many its input asks for. */
const MAX_STEPS = 100_000;

/**
 * What a v1 task of kind `simulate` may ask of its simulation, to try out timeouts, retries, cancellation and
 * progress without writing a handler: how long to work (`ms`), to report progress `steps` times evenly over that
 * time, and to fail its first `fail_attempts` runs (all of them when not given) with the message `fail`.
 */
interface SimulateOptions {
  ms?: number;
  steps: number;
  fail?: string;
  fail_attempts?: number;
}

function options(input: unknown): SimulateOptions {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return { steps: 0 };
  const o = input as Record<string, unknown>;
  return {
    ...(typeof o.ms === 'number' && Number.isFinite(o.ms) && o.ms >= 0 && { ms: Math.min(o.ms, 86_400_000) }),
    steps: Number.isInteger(o.steps) && (o.steps as number) > 0 ? Math.min(o.steps as number, MAX_STEPS) : 0,
    ...(typeof o.fail === 'string' && { fail: o.fail }),
    ...(typeof o.fail_attempts === 'number' && { fail_attempts: o.fail_attempts }),
  };
}

/**
 * The default handler: stands for I/O-bound work. It waits a random time in [minMs, maxMs] (or the `ms` a v1
 * input asks for), stops at once when its signal is aborted, and says what it did. The original API's tasks are
 * strings, and are always simply processed.
 */
export function simulateHandler(minMs: number, maxMs: number): Handler {
  return async (input, ctx) => {
    const asked = options(input);
    const ms = asked.ms ?? minMs + Math.floor(Math.random() * (maxMs - minMs + 1));
    if (asked.steps === 0) {
      await sleep(ms, undefined, { signal: ctx.signal });
    } else {
      const start = performance.now();
      for (let i = 1; i <= asked.steps; i++) {
        // Against the start, not step by step, so that the timers' slack does not add up.
        await sleep(Math.max(0, start + (ms * i) / asked.steps - performance.now()), undefined, {
          signal: ctx.signal,
        });
        ctx.progress((100 * i) / asked.steps, `step ${i} of ${asked.steps}`);
      }
    }
    if (asked.fail !== undefined && ctx.attempt <= (asked.fail_attempts ?? Infinity)) {
      throw new Error(asked.fail);
    }
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    return `processed task ${JSON.stringify(truncate(text, 200))} in ${ms} ms`;
  };
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
