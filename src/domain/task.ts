/**
 * Task states and the outcomes that end them. The database enforces the same machine (see
 * migrations/0001_tasks.sql and docs/state-machine.md):
 *
 *   queued ──claim──▶ running ──settle──▶ completed
 *                        │
 *                        └──────────────▶ failed (error | timeout | shutdown | worker_lost)
 */
export const TASK_STATES = ['queued', 'running', 'completed', 'failed'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** Why a failed task failed. Stored in tasks.failure. */
export const FAILURE_KINDS = ['error', 'timeout', 'shutdown', 'worker_lost', 'no_handler'] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/** The three statuses of the original API. Every internal state maps onto exactly one. */
export type ApiStatus = 'in progress' | 'completed' | 'failed';

export function apiStatus(state: TaskState): ApiStatus {
  switch (state) {
    case 'queued':
    case 'running':
      return 'in progress';
    case 'completed':
      return 'completed';
    case 'failed':
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

/** A task handed to the engine by a claim: what it needs to run it and to fence its outcome. */
export interface ClaimedTask {
  id: string;
  handler: string;
  input: string;
  timeoutMs: number;
  attempt: number;
}

/**
 * How one run ended, as the executor saw it: the handler's value, or why it failed. The outcome policy
 * (outcome.ts) turns it into the decision the store writes.
 */
export type Outcome =
  { kind: 'completed'; value: unknown } | { kind: 'failed'; failure: FailureKind; message: string };

export const outcomes = {
  completed: (value: unknown): Outcome => ({ kind: 'completed', value }),
  failed: (failure: FailureKind, message: string): Outcome => ({ kind: 'failed', failure, message }),
};
