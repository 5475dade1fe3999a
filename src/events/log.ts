import { describeDbError } from '../db/errors.js';
import type { Logger } from '../logger.js';
import type { EventBus, EventName, HealthCrossing, TaskdEvents } from './bus.js';

/**
 * The log, as one subscriber of the event bus: each event becomes one JSON line whose `event` field names it
 * (what tests and tools match on) and whose `msg` reads well. The original specification asks for task
 * creation, status changes and shutdown steps, each with its task id; those are at info or above.
 */
type Line = [
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error',
  msg: string,
  fields: Record<string, unknown>,
];
type Formatters = { [E in EventName]: (p: TaskdEvents[E]) => Line | undefined };

const err = (e: unknown) => describeDbError(e);

const healthFields = (p: HealthCrossing) => ({
  check: p.check,
  subject: p.subject,
  value: p.value,
  unit: p.unit,
  threshold: p.threshold,
  holder: p.holder,
});

const formatters: Formatters = {
  'task.created': (p) => [
    'info',
    'task created',
    { task_id: p.taskId, kind: p.kind, queue: p.queue, request_id: p.requestId },
  ],
  'task.started': (p) => [
    'info',
    'task started',
    { task_id: p.taskId, attempt: p.attempt, handler: p.handler, queue: p.queue, worker_id: p.workerId },
  ],
  'task.finished': (p) => [
    ((p.by === 'worker' || p.by === 'external') && p.failure !== 'timeout') || p.by === 'client'
      ? 'info'
      : 'warn',
    'task status changed',
    { task_id: p.taskId, status: p.state, reason: p.failure, duration_ms: p.durationMs, by: p.by },
  ],
  'task.retrying': (p) => [
    'warn',
    'task status changed',
    { task_id: p.taskId, status: 'retrying', reason: p.failure, delay_ms: p.delayMs, by: p.by },
  ],
  'task.lease_lost': (p) => [
    'info',
    'external worker refused: its lease no longer holds the task',
    { task_id: p.taskId, action: p.action },
  ],
  'task.outcome_discarded': (p) => [
    p.reason === 'aborted' ? 'debug' : 'warn',
    p.reason === 'unstorable'
      ? 'outcome discarded: it could not be stored'
      : 'outcome discarded: the run was already ended',
    { task_id: p.taskId, reason: p.reason },
  ],
  'task.progress': (p) => [
    'debug',
    'task progress written',
    { tasks: p.taskIds.length, fenced: p.fenced, task_ids: p.taskIds },
  ],
  'progress.failed': (p) =>
    p.failures === 1 || p.failures % 20 === 0
      ? ['warn', 'writing task progress failed', { tasks: p.tasks, failures: p.failures, err: err(p.err) }]
      : undefined,
  'handler.stuck': (p) => [
    'warn',
    'handler ignores its abort signal and is still running',
    { task_id: p.taskId, handler: p.handler },
  ],
  'handler.returned': (p) => [
    'info',
    'stuck handler returned',
    { task_id: p.taskId, handler: p.handler, stuck_ms: p.stuckMs },
  ],
  'handler_thread.started': (p) => ['debug', 'handler thread started', { threads: p.threads }],
  'handler_thread.ended': (p) => ['debug', 'handler thread ended', { threads: p.threads }],
  'worker.registered': (p) => ['info', 'worker registered', { worker_id: p.workerId, lease_ms: p.leaseMs }],
  'worker.heartbeat': (p) => ['trace', 'heartbeat', { worker_id: p.workerId, leader: p.leader }],
  'worker.heartbeat_failed': (p) => ['warn', 'heartbeat failed', { worker_id: p.workerId, err: err(p.err) }],
  'worker.lease_lost': (p) => [
    'error',
    'lease lost: another process declared this worker dead',
    { worker_id: p.workerId },
  ],
  'worker.reaped': (p) => ['warn', 'lost worker recovered: its lease expired', { worker_id: p.workerId }],
  'worker.deregistered': (p) => [
    'info',
    'worker deregistered',
    { worker_id: p.workerId, failed: p.failed, requeued: p.requeued },
  ],
  'leader.elected': (p) => ['info', 'elected maintenance leader', { worker_id: p.workerId }],
  'leader.resigned': (p) => ['info', 'no longer maintenance leader', { worker_id: p.workerId }],
  'engine.started': (p) => ['info', 'engine started', { worker_id: p.workerId, concurrency: p.concurrency }],
  'engine.crashed': (p) => [
    'error',
    p.giveUp ? 'engine loop keeps crashing; stopping the process' : 'engine loop crashed; restarting it',
    { component: p.component, err: p.err, restart: p.restart },
  ],
  'engine.stopped_claiming': (p) => [
    'info',
    'stopped claiming; waiting for running tasks',
    { running: p.running, grace_ms: p.graceMs },
  ],
  'engine.grace_over': (p) => [
    'warn',
    'grace period over; failing tasks still running',
    { running: p.running },
  ],
  'notifier.connected': (p) =>
    p.reconnect
      ? ['info', 'notification connection restored', {}]
      : ['debug', 'notification connection open', {}],
  'notifier.lost': (p) => ['warn', 'notification connection lost', { err: err(p.err) }],
  'maintenance.failed': (p) => ['warn', `${p.job} failed; will retry`, { job: p.job, err: err(p.err) }],
  'retention.deleted': (p) => [
    'info',
    'retention: deleted finished tasks',
    { deleted: p.deleted, max_age_ms: p.maxAgeMs },
  ],
  'retention.dropped': (p) => [
    'info',
    'retention: dropped partitions of finished tasks',
    { partitions: p.partitions, max_age_ms: p.maxAgeMs },
  ],
  'partitions.created': (p) => ['info', 'partitions of the task table made ahead', { created: p.created }],
  'partitions.deferred': () => [
    'warn',
    'partitions of the task table not made now: their lock was not had within 2 s; tried again later',
    {},
  ],
  'outbound.unsigned': () => [
    'warn',
    'sending webhooks and http task requests unsigned: WEBHOOK_SECRET is not set',
    {},
  ],
  // Debug: every attempt is recorded on its delivery (GET /v1/tasks/{id}/deliveries) and counted in /metrics, and a
  // line per success would be one more per task at info; what went wrong stays at warn.
  'webhook.delivered': (p) => [
    'debug',
    'webhook delivered',
    { webhook_id: p.webhookId, task_id: p.taskId, attempt: p.attempt, response_status: p.responseStatus },
  ],
  'webhook.attempt_failed': (p) => [
    'warn',
    p.retryInMs === undefined
      ? 'webhook attempt failed; no attempts left'
      : 'webhook attempt failed; will retry',
    {
      webhook_id: p.webhookId,
      task_id: p.taskId,
      attempt: p.attempt,
      response_status: p.responseStatus,
      error: p.error,
      retry_in_ms: p.retryInMs,
    },
  ],
  'webhook.failed': (p) => [
    'error',
    'webhook given up',
    { webhook_id: p.webhookId, task_id: p.taskId, attempts: p.attempts, error: p.error },
  ],
  'webhook.store_failed': (p) => [
    'warn',
    'webhook deliveries: database statement failed; will retry',
    { err: err(p.err) },
  ],
  'schedule.fired': (p) => [
    'info',
    p.taskId ? 'schedule ran' : 'schedule ran; its task for this tick existed already',
    { schedule: p.name, tick: p.tick, task_id: p.taskId, next_run_at: p.next },
  ],
  'schedule.missed': (p) => [
    'warn',
    'schedule was late past the grace; missed ticks skipped, the latest runs',
    { schedule: p.name, skipped_from: p.from, runs: p.to },
  ],
  'schedule.failed': (p) => [
    'error',
    p.name ? 'running a schedule failed; retrying' : 'running the schedules failed; retrying',
    { schedule: p.name, err: err(p.err) },
  ],
  'settle.retrying': (p) =>
    p.failures === 1 || p.failures % 20 === 0
      ? [
          'warn',
          'writing task outcomes failed; retrying',
          { tasks: p.tasks, failures: p.failures, err: err(p.err) },
        ]
      : undefined,
  'settle.recovered': (p) => [
    'info',
    'task outcomes written after retrying',
    { tasks: p.tasks, failures: p.failures },
  ],
  'queues.sampled': (p) => [
    'trace',
    'queues sampled',
    { queues: p.queues.length, live_workers: p.liveWorkers },
  ],
  'health.sampled': (p) => ['trace', 'database health sampled', { status: p.report.status }],
  'sample.failed': (p) => [
    'warn',
    `sampling ${p.sampler} failed; will retry`,
    { sampler: p.sampler, err: err(p.err) },
  ],
  'health.warn': (p) => ['warn', `database health: ${p.check} is over its threshold`, healthFields(p)],
  'health.recovered': (p) => [
    'info',
    `database health: ${p.check} is back under its threshold`,
    healthFields(p),
  ],
  'settle.rejected': (p) => [
    'error',
    'task outcome rejected by the database',
    { tasks: p.tasks, err: err(p.err) },
  ],
  'replica.used': (p) => [
    'info',
    'reads are served by the read replica',
    { replica: p.replica, lag_ms: p.lagMs },
  ],
  'replica.unused': (p) => [
    'warn',
    `reads go to the primary: the read replica is ${p.reason.replace(/_/g, ' ')}`,
    {
      replica: p.replica,
      reason: p.reason,
      lag_ms: p.lagMs,
      ...(p.err !== undefined && { err: err(p.err) }),
    },
  ],
};

/** Writes every event to `log`. Returns the unsubscribe function. */
export function logEvents(bus: EventBus, log: Logger): () => void {
  const offs = (Object.keys(formatters) as EventName[]).map((event) =>
    bus.on(event, (payload) => {
      const format = formatters[event] as (p: typeof payload) => Line | undefined;
      const line = format(payload);
      if (!line) return;
      const [level, msg, fields] = line;
      if (!log.isLevelEnabled(level)) return;
      log[level]({ event, ...fields }, msg);
    }),
  );
  return () => offs.forEach((off) => off());
}
