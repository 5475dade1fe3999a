import type { FailureKind, Outcome } from './task.js';

/**
 * The outcome policy: the one place that decides how a run ends and what a client reads about it. Whoever
 * detects the end — the executor (result, throw, deadline), the reaper (a lost worker), shutdown, the settler (an
 * outcome it could not store) — asks here, and the store writes the decision. Retries, cancellation and webhooks
 * attach to this seam.
 */

/** What the store writes to end a run: the final state and the text `check-result` shows as Result. */
export type Decision =
  { state: 'completed'; result: string } | { state: 'failed'; failure: FailureKind; result: string };

/** The client-visible reasons of failures that the service, not a handler, decides. */
export const FAILURE_MESSAGES = {
  workerLost: 'failed: worker lost (the process running this task stopped renewing its lease)',
  shutdown: 'failed: the server shut down before the task finished',
  unstorable: 'failed: the task finished but its outcome could not be stored',
  timeout: (timeoutMs: number) => `task timed out after ${timeoutMs} ms`,
  noHandler: (handler: string) => `no handler named "${handler}" in this process`,
  tooLarge: (bytes: number, maxBytes: number) =>
    `failed: the result is ${bytes} bytes, more than MAX_RESULT_BYTES (${maxBytes})`,
} as const;

export interface OutcomeLimits {
  /** Largest result stored, in bytes of UTF-8; a larger one fails the task instead. */
  maxResultBytes: number;
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

/** A run that ended in this process: completed, or failed for the reason the executor saw. */
export function decide(outcome: Outcome, limits: OutcomeLimits): Decision {
  if (outcome.kind === 'failed') {
    return { state: 'failed', failure: outcome.failure, result: storableText(outcome.message) };
  }
  let text: string;
  try {
    text = storableText(resultText(outcome.value));
  } catch (err) {
    return { state: 'failed', failure: 'error', result: (err as Error).message };
  }
  // A UTF-16 code unit takes at most 3 bytes of UTF-8: only long strings need counting.
  if (text.length * 3 > limits.maxResultBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > limits.maxResultBytes) {
      return {
        state: 'failed',
        failure: 'error',
        result: FAILURE_MESSAGES.tooLarge(bytes, limits.maxResultBytes),
      };
    }
  }
  return { state: 'completed', result: text };
}

/** The run's process stopped renewing its lease (or its registration is gone). */
export const workerLost: Decision = {
  state: 'failed',
  failure: 'worker_lost',
  result: FAILURE_MESSAGES.workerLost,
};

/** The grace period of a shutdown ended before the run did. */
export const shutdown: Decision = { state: 'failed', failure: 'shutdown', result: FAILURE_MESSAGES.shutdown };

/** The run's own outcome could not be written (the store rejected it): still end the run. */
export const unstorable: Decision = {
  state: 'failed',
  failure: 'error',
  result: FAILURE_MESSAGES.unstorable,
};
