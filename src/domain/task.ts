/**
 * Task states and the outcomes that end them. The database enforces the same machine (see migrations 0001, 0005
 * and docs/state-machine.md):
 *
 *   scheduled ──due──▶ queued ──claim──▶ running ──settle──▶ completed
 *       ▲                ▲                  │ └────────────▶ failed (error | timeout | shutdown | worker_lost |
 *       └── retry later ─┴─ requeue ────────┘                        no_handler)
 *   scheduled | queued | running ──cancel──▶ cancelled;   failed | cancelled ──retry──▶ queued
 */
export const TASK_STATES = ['scheduled', 'queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States a task never leaves, except through a retry by hand. */
export const TERMINAL_STATES = ['completed', 'failed', 'cancelled'] as const satisfies readonly TaskState[];

/** Why a run ended badly. Stored in tasks.failure for failed and cancelled tasks, and as v1's `error.type`. */
export const FAILURE_KINDS = [
  'error',
  'timeout',
  'shutdown',
  'worker_lost',
  'no_handler',
  'cancelled',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** The three statuses of the original API. Every internal state maps onto exactly one. */
export type ApiStatus = 'in progress' | 'completed' | 'failed';

export function apiStatus(state: TaskState): ApiStatus {
  switch (state) {
    case 'scheduled':
    case 'queued':
    case 'running':
      return 'in progress';
    case 'completed':
      return 'completed';
    case 'failed':
    case 'cancelled':
      return 'failed';
  }
}

/** A task as the API reads it. `createdAt` is already RFC 3339 UTC with microseconds (from PostgreSQL). */
export interface TaskView {
  id: string;
  task: string;
  state: TaskState;
  result: string;
  createdAt: string;
}

/** A task handed to the engine by a claim: what it needs to run it, to fence its outcome and to retry it. */
export interface ClaimedTask {
  id: string;
  handler: string;
  queue: string;
  /** How long the task waited to be picked up: from when it became runnable (run_at, or created) to this claim. */
  waitedMs: number;
  /** The posted string for a task of the original API; any JSON value for a v1 task. */
  input: unknown;
  /** A v1 task: its result is stored as JSON. A task of the original API stores its Result as text. */
  json: boolean;
  timeoutMs: number;
  attempt: number;
  /** Runs allowed since the last retry by hand (`attempt - attemptBase` of them have started). */
  maxAttempts: number;
  attemptBase: number;
  /** The task's own backoff between retries, where it has one. */
  backoff: Partial<Backoff>;
}

/** Exponential backoff with full jitter: the n-th retry waits a random time up to min(maxMs, baseMs · 2^(n-1)). */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/**
 * How one run ended, as the executor saw it: the handler's value, or why it failed. The outcome policy
 * (outcome.ts) turns it into the decision the store writes.
 */
export type Outcome =
  | { kind: 'completed'; value: unknown }
  /**
   * `retryable: false`: the handler said that running the task again would not help. `retryAfterMs`: the handler
   * said not to run it again sooner (an HTTP target's Retry-After).
   */
  | { kind: 'failed'; failure: FailureKind; message: string; retryable?: boolean; retryAfterMs?: number };

export const outcomes = {
  completed: (value: unknown): Outcome => ({ kind: 'completed', value }),
  failed: (failure: FailureKind, message: string, retryable?: boolean, retryAfterMs?: number): Outcome => ({
    kind: 'failed',
    failure,
    message,
    ...(retryable !== undefined && { retryable }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  }),
};
