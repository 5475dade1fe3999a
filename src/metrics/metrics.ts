import client from 'prom-client';
import type pg from 'pg';
import type { ReadReplica } from '../db/read-replica.js';
import type { EventBus } from '../events/bus.js';

/**
 * The Prometheus metrics of one process, fed by the event bus (events are the seam: no part of taskd calls into
 * this module), by the periodic samplers' events for the gauges that need the database, and at scrape time by
 * the numbers the process holds in memory (pool, engine). Names follow Prometheus conventions: `taskd_` prefix,
 * `_total` counters, base units (`_seconds`, `_bytes`). docs/operations.md lists them all.
 */

/** From a millisecond run to an hour-long one: handlers range from `noop` to long I/O. */
const RUN_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600,
];
/** Pickup is milliseconds when workers keep up, minutes to hours when a backlog builds. */
const PICKUP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** What the process knows in memory, read at each scrape. */
export interface MetricsSources {
  pool: pg.Pool;
  /** The engine's runs (undefined in an API-only process). */
  engineLoad?: () => { running: number; stuck: number };
  /** The read replica (DATABASE_READ_URL); its metrics exist only when there is one. */
  readReplica?: ReadReplica | undefined;
  /** Long-polls and event streams waiting on tasks in this process. */
  waiters?: () => number;
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly httpDuration: client.Histogram<'route' | 'method' | 'status_class'>;

  constructor(bus: EventBus, sources: MetricsSources) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });

    const created = new client.Counter({
      name: 'taskd_tasks_created_total',
      help: 'Tasks created through this process, by kind, queue and API.',
      labelNames: ['kind', 'queue', 'api'] as const,
      registers,
    });
    const finished = new client.Counter({
      name: 'taskd_tasks_finished_total',
      help: 'Tasks that reached a terminal state, as written by this process (its runs, reaper, shutdown, cancels).',
      labelNames: ['kind', 'queue', 'outcome', 'failure'] as const,
      registers,
    });
    const retried = new client.Counter({
      name: 'taskd_task_retries_total',
      help: 'Runs that ended badly with attempts left: the task runs again.',
      labelNames: ['kind', 'queue', 'failure'] as const,
      registers,
    });
    const runDuration = new client.Histogram({
      name: 'taskd_task_run_duration_seconds',
      help: 'How long runs executed in this process took, by how they ended.',
      labelNames: ['kind', 'queue', 'outcome'] as const,
      buckets: RUN_BUCKETS,
      registers,
    });
    const pickup = new client.Histogram({
      name: 'taskd_task_pickup_latency_seconds',
      help: 'From when a task became runnable (created, or its run_at) to the start of its run.',
      labelNames: ['kind', 'queue'] as const,
      buckets: PICKUP_BUCKETS,
      registers,
    });
    const webhooks = new client.Counter({
      name: 'taskd_webhook_deliveries_total',
      help: 'Completion webhook delivery attempts: delivered, retrying (failed, will retry) or failed (given up).',
      labelNames: ['outcome'] as const,
      registers,
    });
    this.httpDuration = new client.Histogram({
      name: 'taskd_http_request_duration_seconds',
      help: 'HTTP requests, by route template, method and status class.',
      labelNames: ['route', 'method', 'status_class'] as const,
      buckets: HTTP_BUCKETS,
      registers,
    });

    const queueTasks = new client.Gauge({
      name: 'taskd_queue_tasks',
      help: 'Tasks not yet ended, by queue and state (sampled every METRICS_SAMPLE_INTERVAL_MS).',
      labelNames: ['queue', 'state'] as const,
      registers,
    });
    const oldestQueued = new client.Gauge({
      name: 'taskd_queue_oldest_queued_age_seconds',
      help: "Age of each queue's oldest queued task, since it became runnable (sampled).",
      labelNames: ['queue'] as const,
      registers,
    });
    const liveWorkers = new client.Gauge({
      name: 'taskd_workers_live',
      help: 'Worker processes with a live lease, across all instances (sampled).',
      registers,
    });

    const engineLoad = sources.engineLoad;
    new client.Gauge({
      name: 'taskd_handlers_running',
      help: 'Runs of this process whose outcome is not stored yet.',
      registers,
      collect() {
        this.set(engineLoad?.().running ?? 0);
      },
    });
    new client.Gauge({
      name: 'taskd_handlers_stuck',
      help: 'Handlers of this process still running after their run was ended (they ignore their signal).',
      registers,
      collect() {
        this.set(engineLoad?.().stuck ?? 0);
      },
    });
    const waiters = sources.waiters;
    new client.Gauge({
      name: 'taskd_waiters',
      help: 'Long-polls (?wait=) and event streams of this process waiting on a task.',
      registers,
      collect() {
        this.set(waiters?.() ?? 0);
      },
    });
    const { pool } = sources;
    new client.Gauge({
      name: 'taskd_db_pool_connections',
      help: "Connections open in this process's database pool.",
      registers,
      collect() {
        this.set(pool.totalCount);
      },
    });
    new client.Gauge({
      name: 'taskd_db_pool_idle_connections',
      help: "Idle connections in this process's database pool.",
      registers,
      collect() {
        this.set(pool.idleCount);
      },
    });
    new client.Gauge({
      name: 'taskd_db_pool_waiting_clients',
      help: 'Statements waiting for a connection of the pool.',
      registers,
      collect() {
        this.set(pool.waitingCount);
      },
    });

    const { readReplica } = sources;
    if (readReplica) {
      new client.Gauge({
        name: 'taskd_db_read_replica_up',
        help: 'Whether reads are served by the read replica (1) or go to the primary (0: down, lagging, not a standby).',
        registers,
        collect() {
          this.set(readReplica.status.inUse ? 1 : 0);
        },
      });
      new client.Gauge({
        name: 'taskd_db_read_replica_lag_seconds',
        help: "The read replica's replay lag at its last check (absent: unknown, the replica did not answer).",
        registers,
        collect() {
          this.reset();
          const { lagMs } = readReplica.status;
          if (lagMs !== null) this.set(lagMs / 1000);
        },
      });
      new client.Gauge({
        name: 'taskd_db_read_replica_lag_bytes',
        help: 'WAL the primary had written that the read replica had not replayed, at its last check (absent: unknown).',
        registers,
        collect() {
          this.reset();
          const { lagBytes } = readReplica.status;
          if (lagBytes !== null) this.set(lagBytes);
        },
      });
      new client.Counter({
        name: 'taskd_db_reads_total',
        help: 'Stale-tolerant reads, by where they ran: the replica, or the primary and why (down, lagging, not_found, error).',
        labelNames: ['target', 'reason'] as const,
        registers,
        collect() {
          const counts = readReplica.readCounts;
          this.reset();
          this.inc({ target: 'replica', reason: '' }, counts.replica);
          for (const [reason, n] of Object.entries(counts.primary))
            this.inc({ target: 'primary', reason }, n);
        },
      });
    }

    const deadTuples = new client.Gauge({
      name: 'taskd_db_dead_tuples',
      help: 'Dead tuples of each taskd table (pg_stat_user_tables, sampled).',
      labelNames: ['table'] as const,
      registers,
    });
    const tableSize = new client.Gauge({
      name: 'taskd_db_table_size_bytes',
      help: 'Size of each taskd table with its indexes and TOAST (sampled).',
      labelNames: ['table'] as const,
      registers,
    });
    const lastVacuum = new client.Gauge({
      name: 'taskd_db_last_vacuum_timestamp_seconds',
      help: 'When each taskd table was last vacuumed, by autovacuum or by hand (absent: never).',
      labelNames: ['table'] as const,
      registers,
    });
    const horizonAge = new client.Gauge({
      name: 'taskd_db_xmin_horizon_age_seconds',
      help: 'Age of the oldest transaction holding back vacuum (0: none).',
      registers,
    });
    const horizonXids = new client.Gauge({
      name: 'taskd_db_xmin_horizon_age_transactions',
      help: 'Age in transaction ids of the oldest xmin holding back vacuum (sessions, slots, prepared).',
      registers,
    });
    const notifyUsage = new client.Gauge({
      name: 'taskd_db_notification_queue_usage_ratio',
      help: "Fraction of PostgreSQL's LISTEN/NOTIFY queue in use.",
      registers,
    });
    const connections = new client.Gauge({
      name: 'taskd_db_connections',
      help: 'Client connections to the database server, by state.',
      labelNames: ['state'] as const,
      registers,
    });
    const maxConnections = new client.Gauge({
      name: 'taskd_db_max_connections',
      help: "The server's max_connections.",
      registers,
    });
    const replicaLag = new client.Gauge({
      name: 'taskd_db_replica_lag_seconds',
      help: 'Replay lag of each replica (absent: no replica).',
      labelNames: ['replica'] as const,
      registers,
    });
    const checkWarn = new client.Gauge({
      name: 'taskd_db_health_warn',
      help: 'Each database health check: 1 while over its threshold, else 0.',
      labelNames: ['check', 'subject'] as const,
      registers,
    });
    const samples = new client.Counter({
      name: 'taskd_db_health_samples_total',
      help: 'Database health samples taken by this process.',
      registers,
    });
    const sampleFailures = new client.Counter({
      name: 'taskd_sample_failures_total',
      help: 'Periodic samples (queues, health) that failed.',
      labelNames: ['sampler'] as const,
      registers,
    });

    this.unsubscribe.push(
      bus.on('task.created', (p) => created.inc({ kind: p.kind, queue: p.queue, api: p.api })),
      bus.on('task.started', (p) => pickup.observe({ kind: p.handler, queue: p.queue }, p.waitedMs / 1000)),
      bus.on('task.finished', (p) => {
        finished.inc({ kind: p.kind, queue: p.queue, outcome: p.state, failure: p.failure ?? '' });
        if (p.durationMs !== undefined) {
          runDuration.observe({ kind: p.kind, queue: p.queue, outcome: p.state }, p.durationMs / 1000);
        }
      }),
      bus.on('task.retrying', (p) => {
        retried.inc({ kind: p.kind, queue: p.queue, failure: p.failure });
        if (p.durationMs !== undefined) {
          runDuration.observe({ kind: p.kind, queue: p.queue, outcome: 'retried' }, p.durationMs / 1000);
        }
      }),
      bus.on('webhook.delivered', () => webhooks.inc({ outcome: 'delivered' })),
      // An attempt without a retry left is followed by webhook.failed, which counts it.
      bus.on('webhook.attempt_failed', (p) => {
        if (p.retryInMs !== undefined) webhooks.inc({ outcome: 'retrying' });
      }),
      bus.on('webhook.failed', () => webhooks.inc({ outcome: 'failed' })),
      bus.on('queues.sampled', (s) => {
        // Reset first: a queue whose tasks all ended drops out rather than showing its last backlog forever.
        queueTasks.reset();
        oldestQueued.reset();
        const names = new Set(s.queues.map((q) => q.queue));
        for (const queue of names) {
          for (const state of ['queued', 'scheduled', 'running'] as const)
            queueTasks.set({ queue, state }, 0);
          oldestQueued.set({ queue }, 0);
        }
        for (const q of s.queues) {
          queueTasks.set({ queue: q.queue, state: q.state }, q.n);
          if (q.oldest_s !== null) oldestQueued.set({ queue: q.queue }, Math.max(0, q.oldest_s));
        }
        liveWorkers.set(s.liveWorkers);
      }),
      bus.on('health.sampled', ({ report }) => {
        samples.inc();
        deadTuples.reset();
        tableSize.reset();
        lastVacuum.reset();
        for (const t of report.tables) {
          deadTuples.set({ table: t.name }, t.dead_tuples);
          tableSize.set({ table: t.name }, t.total_bytes);
          const last = [t.last_autovacuum, t.last_vacuum]
            .filter((v): v is string => v !== null)
            .sort()
            .at(-1);
          if (last) lastVacuum.set({ table: t.name }, Date.parse(last) / 1000);
        }
        const byName = new Map(report.checks.map((c) => [c.name, c]));
        horizonAge.set(byName.get('xmin_horizon_age')?.value ?? 0);
        horizonXids.set(byName.get('xmin_horizon_xid_age')?.value ?? 0);
        notifyUsage.set(report.notification_queue_usage);
        connections.reset();
        for (const [state, n] of Object.entries(report.connections.by_state)) connections.set({ state }, n);
        maxConnections.set(report.connections.max_connections);
        replicaLag.reset();
        for (const r of report.replicas ?? []) {
          replicaLag.set({ replica: r.application_name || r.client_addr || 'unknown' }, r.replay_lag_s);
        }
        checkWarn.reset();
        for (const c of report.checks) {
          checkWarn.set({ check: c.name, subject: c.subject ?? '' }, c.status === 'warn' ? 1 : 0);
        }
      }),
      bus.on('sample.failed', (p) => sampleFailures.inc({ sampler: p.sampler })),
    );
  }

  /**
   * One HTTP request: labelled by its route's template (`/v1/tasks/:id`), never by the raw URL, so that ids and
   * query strings cannot multiply the series; requests that matched no route share one label.
   */
  observeHttp(route: string | undefined, method: string, statusCode: number, seconds: number): void {
    this.httpDuration.observe(
      { route: route ?? 'unmatched', method, status_class: `${Math.floor(statusCode / 100)}xx` },
      seconds,
    );
  }

  /** The text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.unsubscribe.splice(0).forEach((off) => off());
  }
}
