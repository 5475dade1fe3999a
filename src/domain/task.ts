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
 * How one execution ended. The executor maps every return, throw and abort onto one of these; the settler
 * writes each with one fenced statement.
 */
export type Outcome =
  { kind: 'completed'; result: string } | { kind: 'failed'; failure: FailureKind; result: string };

export const outcomes = {
  completed: (result: string): Outcome => ({ kind: 'completed', result }),
  failed: (failure: FailureKind, result: string): Outcome => ({ kind: 'failed', failure, result }),
};
