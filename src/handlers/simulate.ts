import type { Handler, HandlerContext } from './registry.js';

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
 *
 * Not an async function: a process may hold 100,000 of these waits at once, and a plain wait is one promise, one
 * timer and one abort listener, where an async function awaiting `timers/promises` holds three times that.
 */
export function simulateHandler(minMs: number, maxMs: number): Handler {
  return (input, ctx) => {
    const asked = options(input);
    const ms = asked.ms ?? minMs + Math.floor(Math.random() * (maxMs - minMs + 1));
    if (asked.steps === 0) return sleep(ms, ctx.signal, () => conclude(input, ctx, asked, ms));
    return stepped(input, ctx, asked, ms);
  };
}

/** A wait that reports progress `asked.steps` times, evenly over `ms`. */
async function stepped(
  input: unknown,
  ctx: HandlerContext,
  asked: SimulateOptions,
  ms: number,
): Promise<string> {
  const start = performance.now();
  for (let i = 1; i <= asked.steps; i++) {
    // Against the start, not step by step, so that the timers' slack does not add up.
    await sleep(Math.max(0, start + (ms * i) / asked.steps - performance.now()), ctx.signal, () => undefined);
    ctx.progress((100 * i) / asked.steps, `step ${i} of ${asked.steps}`);
  }
  return conclude(input, ctx, asked, ms);
}

/** What the run says once it has waited: its result, or the failure its input asks for. */
function conclude(input: unknown, ctx: HandlerContext, asked: SimulateOptions, ms: number): string {
  if (asked.fail !== undefined && ctx.attempt <= (asked.fail_attempts ?? Infinity)) {
    throw new Error(asked.fail);
  }
  const text = typeof input === 'string' ? input : JSON.stringify(input);
  return `processed task ${JSON.stringify(truncate(text, 200))} in ${ms} ms`;
}

/**
 * Resolves to what `then` returns (or rejects with what it throws) after `ms`; rejects at once when `signal`
 * aborts, with an AbortError whose cause is the signal's reason, as `timers/promises` does. The timer and the
 * listener are removed whichever comes first.
 */
function sleep<T>(ms: number, signal: AbortSignal, then: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      try {
        resolve(then());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  return Object.assign(err, { code: 'ABORT_ERR' });
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
