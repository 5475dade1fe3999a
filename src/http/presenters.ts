import type { Attempt, DeliveryRecord, QueueRow, TaskRecord, WorkerRow } from '../db/store.js';
import { apiStatus, type TaskView } from '../domain/task.js';
import type { ScheduleView } from '../schedules/schedule-service.js';

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

/** A webhook delivery of a task, with every attempt it had. */
export function presentDelivery(d: DeliveryRecord) {
  return {
    webhook_id: d.webhook_id,
    type: d.type,
    url: d.url,
    attempt: d.attempt,
    status: d.status,
    response_status: d.response_status,
    error: d.error,
    next_attempt_at: d.next_attempt_at,
    created_at: d.created_at,
    delivered_at: d.delivered_at,
    attempts: d.attempts.map((a) => ({
      attempt: a.attempt,
      started_at: a.started_at,
      finished_at: a.finished_at,
      response_status: a.response_status,
      error: a.error,
    })),
  };
}

export function presentSchedule(s: ScheduleView) {
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    task: s.task,
    paused: s.paused,
    next_run_at: s.next_run_at,
    next_runs: s.next_runs,
    last_run_at: s.last_run_at,
    last_task_id: s.last_task_id,
    created_at: s.created_at,
    updated_at: s.updated_at,
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
