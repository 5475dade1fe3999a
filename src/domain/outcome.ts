import type { Backoff, ClaimedTask, FailureKind, Outcome } from './task.js';

/**
 * The outcome policy: the one place that decides how a run ends and what a client reads about it. Whoever
 * detects the end — the executor (result, throw, deadline), the reaper (a lost worker), shutdown, the settler (an
 * outcome it could not store) — asks here, and the store writes the decision. Retries, cancellation and webhooks
 * attach to this seam.
 */

/**
 * What the store writes to end a run: the state the task goes to, and for the record (the task's history, and
 * `check-result`'s Result) why. `scheduled`: retried after `delayMs`. A completed v1 task keeps its value as
 * JSON text in `output`; one of the original API keeps its Result text.
 */
export type Decision =
  | { state: 'completed'; result: string; output?: string }
  | { state: 'failed'; failure: FailureKind; result: string }
  | { state: 'scheduled'; failure: FailureKind; result: string; delayMs: number };

/**
 * The decision for runs that the service ends itself, many at once, in one statement (a lost worker's, or those
 * a shutdown interrupts): the store applies it to each run, retrying those with attempts left — `later` after
 * their backoff, `now` at once — and failing the rest.
 */
export interface LostRunDecision {
  failure: FailureKind;
  result: string;
  retry: 'later' | 'now' | 'never';
  backoff: Backoff;
}

/** The client-visible reasons of failures that the service, not a handler, decides. */
export const FAILURE_MESSAGES = {
  workerLost: 'failed: worker lost (the process running this task stopped renewing its lease)',
  shutdown: 'failed: the server shut down before the task finished',
  unstorable: 'failed: the task finished but its outcome could not be stored',
  cancelled: 'cancelled',
  timeout: (timeoutMs: number) => `task timed out after ${timeoutMs} ms`,
  noHandler: (handler: string) => `no handler named "${handler}" in this process`,
  tooLarge: (bytes: number, maxBytes: number) =>
    `failed: the result is ${bytes} bytes, more than MAX_RESULT_BYTES (${maxBytes})`,
} as const;

export interface OutcomeLimits {
  /** Largest result stored, in bytes of UTF-8; a larger one fails the task instead. */
  maxResultBytes: number;
  /** Backoff between retries of a task that sets none of its own. */
  backoff: Backoff;
}

/** Failures worth another run: the same task may well succeed. `no_handler` and `cancelled` would not. */
const RETRYABLE: ReadonlySet<FailureKind> = new Set(['error', 'timeout', 'worker_lost']);

/** Full jitter: a random wait up to min(max, base · 2^(retry-1)), so that retries of a burst spread out. */
export function backoffDelay(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const cap = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}

/**
 * The wait before a retry: the backoff's, or longer when the handler asked for a minimum (Retry-After), but never
 * beyond the backoff's cap, so that a target cannot park a task for longer than its settings allow.
 */
export function retryDelay(backoffMs: number, notBeforeMs: number, backoff: Backoff): number {
  return Math.max(backoffMs, Math.min(Math.ceil(notBeforeMs), backoff.maxMs));
}

/** PostgreSQL text cannot hold NUL, and UTF-8 cannot hold a lone surrogate: make any handler output storable. */
export function storableText(s: string): string {
  return s.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

/** A handler's value as the Result text: strings as they are, anything else as JSON. */
function resultText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? '';
  } catch (err) {
    // A cyclic or BigInt-holding value has no JSON form.
    throw new UnrepresentableResult(err);
  }
}

class UnrepresentableResult extends Error {
  constructor(cause: unknown) {
    super(`the result has no JSON form: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * A run that ended in this process: completed; or failed for the reason the executor saw, and then retried
 * later if the failure is worth it, the handler did not say otherwise, and the task has attempts left.
 */
export function decide(outcome: Outcome, task: ClaimedTask, limits: OutcomeLimits): Decision {
  if (outcome.kind === 'failed') {
    return failOrRetry(
      outcome.failure,
      storableText(outcome.message),
      outcome.retryable !== false,
      task,
      limits,
      outcome.retryAfterMs,
    );
  }
  let text: string;
  try {
    text = task.json ? jsonText(outcome.value) : storableText(resultText(outcome.value));
  } catch (err) {
    return failOrRetry('error', (err as Error).message, false, task, limits);
  }
  // A UTF-16 code unit takes at most 3 bytes of UTF-8: only long strings need counting.
  if (text.length * 3 > limits.maxResultBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > limits.maxResultBytes) {
      return failOrRetry(
        'error',
        FAILURE_MESSAGES.tooLarge(bytes, limits.maxResultBytes),
        false,
        task,
        limits,
      );
    }
  }
  return task.json ? { state: 'completed', result: '', output: text } : { state: 'completed', result: text };
}

/**
 * A v1 result as the JSON text stored: what JSON.stringify makes of it (undefined is null), every string storable.
 * External workers' results are stored the same way.
 */
export function jsonText(value: unknown): string {
  try {
    return (
      JSON.stringify(value ?? null, (_key, v: unknown) => (typeof v === 'string' ? storableText(v) : v)) ??
      'null'
    );
  } catch (err) {
    throw new UnrepresentableResult(err);
  }
}

function failOrRetry(
  failure: FailureKind,
  message: string,
  handlerAllows: boolean,
  task: ClaimedTask,
  limits: OutcomeLimits,
  notBeforeMs = 0,
): Decision {
  const runs = task.attempt - task.attemptBase;
  if (handlerAllows && RETRYABLE.has(failure) && runs < task.maxAttempts) {
    const backoff = { ...limits.backoff, ...task.backoff };
    return {
      state: 'scheduled',
      failure,
      result: message,
      delayMs: retryDelay(backoffDelay(runs, backoff), notBeforeMs, backoff),
    };
  }
  return { state: 'failed', failure, result: message };
}

/** The run's process stopped renewing its lease (or its registration is gone): retried after a backoff. */
export function workerLost(backoff: Backoff): LostRunDecision {
  return { failure: 'worker_lost', result: FAILURE_MESSAGES.workerLost, retry: 'later', backoff };
}

/** The grace period of a shutdown ended before the run did: back to the queue at once, if it may run again. */
export function shutdown(backoff: Backoff): LostRunDecision {
  return { failure: 'shutdown', result: FAILURE_MESSAGES.shutdown, retry: 'now', backoff };
}

/** The run's own outcome could not be written (the store rejected it): still end the run, for good. */
export const unstorable: Decision = {
  state: 'failed',
  failure: 'error',
  result: FAILURE_MESSAGES.unstorable,
};
