import { setTimeout as sleep } from 'node:timers/promises';
import type { Handler } from './registry.js';

/**
 * What a v1 task of kind `simulate` may ask of its simulation, to try out timeouts, retries and cancellation
 * without writing a handler: how long to work, and to fail its first `fail_attempts` runs (all of them when not
 * given) with the message `fail`.
 */
interface SimulateOptions {
  ms?: number;
  fail?: string;
  fail_attempts?: number;
}

function options(input: unknown): SimulateOptions {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return {};
  const o = input as Record<string, unknown>;
  return {
    ...(typeof o.ms === 'number' && Number.isFinite(o.ms) && o.ms >= 0 && { ms: Math.min(o.ms, 86_400_000) }),
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
    await sleep(ms, undefined, { signal: ctx.signal });
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
