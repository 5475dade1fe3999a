import { setTimeout as sleep } from 'node:timers/promises';
import type { Handler } from './registry.js';

/**
 * The default handler: stands for I/O-bound work. It waits a random time in [minMs, maxMs], stops at once when
 * its signal is aborted, and says what it did.
 */
export function simulateHandler(minMs: number, maxMs: number): Handler {
  return async (input, ctx) => {
    const ms = minMs + Math.floor(Math.random() * (maxMs - minMs + 1));
    await sleep(ms, undefined, { signal: ctx.signal });
    const text = typeof input === 'string' ? input : JSON.stringify(input);
    return `processed task ${JSON.stringify(truncate(text, 200))} in ${ms} ms`;
  };
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
