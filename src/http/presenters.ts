import type { Attempt, QueueRow, TaskRecord, WorkerRow } from '../db/store.js';
import { apiStatus, type TaskView } from '../domain/task.js';

/** The original API's answer to POST /task/create. */
export function presentCreated(taskId: string) {
  return { task_id: taskId, status: 'success' as const };
}

/** The original API's answer to GET /task/check-result: exactly these keys, in this order. */
export function presentTask(view: TaskView) {
  return {
    Task: view.task,
    CreatedAt: view.createdAt,
    Task_identification: view.id,
    Result: view.result,
    Status: apiStatus(view.state),
  };
}

/** A task as v1 answers with it: the contract's keys, in its order. */
export function presentTaskV1(t: TaskRecord) {
  return {
    id: t.id,
    kind: t.kind,
    queue: t.queue,
    state: t.state,
    input: t.input,
    result: t.result,
    error: t.error,
    priority: t.priority,
    attempt: t.attempt,
    max_attempts: t.max_attempts,
    timeout_ms: t.timeout_ms,
    progress: t.progress,
    idempotency_key: t.idempotency_key,
    callback_url: t.callback_url,
    created_at: t.created_at,
    run_at: t.run_at,
    started_at: t.started_at,
    finished_at: t.finished_at,
  };
}

export function presentAttempt(a: Attempt) {
  return {
    attempt: a.attempt,
    worker_id: a.worker_id,
    started_at: a.started_at,
    finished_at: a.finished_at,
    outcome: a.outcome,
    error: a.error,
  };
}

export function presentQueue(q: QueueRow) {
  return {
    name: q.name,
    paused: q.paused,
    concurrency: q.concurrency,
    counts: q.counts,
    oldest_queued_age_ms: q.oldest_queued_age_ms === null ? null : Math.round(q.oldest_queued_age_ms),
  };
}

export function presentWorker(w: WorkerRow) {
  return {
    id: w.id,
    host: w.host,
    pid: w.pid,
    concurrency: w.concurrency,
    started_at: w.started_at,
    last_heartbeat_at: w.last_heartbeat_at,
    lease_expires_at: w.lease_expires_at,
    running: w.running,
    leader: w.leader,
  };
}
