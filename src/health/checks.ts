import type { ReadReplicaStatus } from '../db/read-replica.js';
import type { HealthSample, HorizonHolder, TableHealth } from '../db/store.js';

/**
 * The database health checks: what a sample of the statistics views (TaskStore.healthSample) says about the
 * things that quietly degrade a PostgreSQL-backed queue — dead tuples that vacuum cannot remove, a transaction
 * holding the xmin horizon back, a filling notification queue, connections running out, a lagging replica. Each
 * check is a value, its unit, a threshold and `ok`/`warn`; docs/operations.md says what to do about each.
 * Pure functions: the sampler (sampler.ts) and GET /v1/health both evaluate samples with them.
 */

/** Thresholds an operator may set (HEALTH_* in config.ts); the others are fixed below. */
export interface HealthThresholds {
  deadTuples: number;
  tableSizeBytes: number;
  xminHorizonSeconds: number;
}

/**
 * Half of autovacuum_freeze_max_age's default (200 million): a horizon this many transactions old keeps the
 * oldest rows from being frozen, and anti-wraparound vacuums are near.
 */
export const XMIN_HORIZON_XID_AGE_WARN = 100_000_000;
/** LISTEN/NOTIFY's queue (8 GB by default) half full: a listener is not reading, and NOTIFY fails once it is full. */
export const NOTIFICATION_QUEUE_USAGE_WARN = 0.5;
/** Client connections over this share of max_connections: new processes (or a pool growing) may be refused. */
export const CONNECTIONS_USAGE_WARN = 0.8;
/** A replica this far behind serves stale reads, and a failover to it would lose that much. */
export const REPLICA_LAG_WARN_S = 60;
/** A table with more dead tuples than its threshold that no vacuum has touched for this long. */
export const VACUUM_AGE_WARN_S = 3600;

export type CheckStatus = 'ok' | 'warn';

export interface HealthCheck {
  /** Which check: a stable name, one of CHECK_NAMES. */
  name: CheckName;
  /** What it is about when it has several subjects (a table), else null. */
  subject: string | null;
  /** null: nothing to measure (no replica, nothing holds the horizon, never vacuumed). */
  value: number | null;
  unit: 'tuples' | 'bytes' | 'seconds' | 'transactions' | 'ratio';
  threshold: number;
  status: CheckStatus;
  /** For the horizon checks: who holds it back (never the text of a query). */
  holder?: HorizonHolder | null;
}

export const CHECK_NAMES = [
  'dead_tuples',
  'table_size',
  'vacuum_age',
  'xmin_horizon_age',
  'xmin_horizon_xid_age',
  'notification_queue_usage',
  'connections',
  'replica_lag',
  'read_replica_lag',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export interface HealthReport {
  status: CheckStatus;
  sampled_at: string;
  checks: HealthCheck[];
  tables: TableHealth[];
  xmin_horizon: { holders: HorizonHolder[] };
  connections: { max_connections: number; by_state: Record<string, number> };
  notification_queue_usage: number;
  /** null: this server has no replica. */
  replicas: HealthSample['server']['replicas'] | null;
}

const over = (value: number | null, threshold: number): CheckStatus =>
  value !== null && value > threshold ? 'warn' : 'ok';

function oldest<K extends 'age_s' | 'xid_age'>(holders: HorizonHolder[], key: K): HorizonHolder | null {
  let best: HorizonHolder | null = null;
  for (const h of holders) {
    const v = h[key];
    if (v !== null && (best === null || v > (best[key] ?? -1))) best = h;
  }
  return best;
}

/** The checks of one sample, and the report GET /v1/health answers. */
export function evaluate(
  sample: HealthSample,
  t: HealthThresholds,
  now = new Date(),
  readReplica?: ReadReplicaStatus,
): HealthReport {
  const checks: HealthCheck[] = [];
  for (const table of sample.tables) {
    checks.push({
      name: 'dead_tuples',
      subject: table.name,
      value: table.dead_tuples,
      unit: 'tuples',
      threshold: t.deadTuples,
      status: over(table.dead_tuples, t.deadTuples),
    });
    checks.push({
      name: 'table_size',
      subject: table.name,
      value: table.total_bytes,
      unit: 'bytes',
      threshold: t.tableSizeBytes,
      status: over(table.total_bytes, t.tableSizeBytes),
    });
    // Only worth a warning where dead tuples pile up: a quiet table needs no vacuum, however long ago the last.
    const stale = table.vacuumed_s_ago === null || table.vacuumed_s_ago > VACUUM_AGE_WARN_S;
    checks.push({
      name: 'vacuum_age',
      subject: table.name,
      value: table.vacuumed_s_ago,
      unit: 'seconds',
      threshold: VACUUM_AGE_WARN_S,
      status: stale && table.dead_tuples > t.deadTuples ? 'warn' : 'ok',
    });
  }

  const byTime = oldest(sample.horizon, 'age_s');
  const ageS = byTime?.age_s ?? null;
  checks.push({
    name: 'xmin_horizon_age',
    subject: null,
    value: ageS,
    unit: 'seconds',
    threshold: t.xminHorizonSeconds,
    status: over(ageS, t.xminHorizonSeconds),
    holder: byTime,
  });
  const byXids = oldest(sample.horizon, 'xid_age');
  const xidAge = byXids?.xid_age ?? null;
  checks.push({
    name: 'xmin_horizon_xid_age',
    subject: null,
    value: xidAge,
    unit: 'transactions',
    threshold: XMIN_HORIZON_XID_AGE_WARN,
    status: over(xidAge, XMIN_HORIZON_XID_AGE_WARN),
    holder: byXids,
  });

  const { server } = sample;
  checks.push({
    name: 'notification_queue_usage',
    subject: null,
    value: server.notification_queue_usage,
    unit: 'ratio',
    threshold: NOTIFICATION_QUEUE_USAGE_WARN,
    status: over(server.notification_queue_usage, NOTIFICATION_QUEUE_USAGE_WARN),
  });
  const inUse = Object.values(server.connections).reduce((a, b) => a + b, 0);
  const usage = server.max_connections > 0 ? inUse / server.max_connections : 0;
  checks.push({
    name: 'connections',
    subject: null,
    value: usage,
    unit: 'ratio',
    threshold: CONNECTIONS_USAGE_WARN,
    status: over(usage, CONNECTIONS_USAGE_WARN),
  });
  const lag = server.replicas.length > 0 ? Math.max(...server.replicas.map((r) => r.replay_lag_s)) : null;
  checks.push({
    name: 'replica_lag',
    subject: null,
    value: lag,
    unit: 'seconds',
    threshold: REPLICA_LAG_WARN_S,
    status: over(lag, REPLICA_LAG_WARN_S),
  });
  if (readReplica) checks.push(readReplicaCheck(readReplica));

  return {
    status: checks.some((c) => c.status === 'warn') ? 'warn' : 'ok',
    // The API's timestamps carry microseconds; a JavaScript date has milliseconds.
    sampled_at: now.toISOString().replace('Z', '000Z'),
    checks,
    tables: sample.tables,
    xmin_horizon: { holders: sample.horizon },
    connections: { max_connections: server.max_connections, by_state: server.connections },
    notification_queue_usage: server.notification_queue_usage,
    replicas: server.replicas.length > 0 ? server.replicas : null,
  };
}

/** A check's identity across samples: its name and subject. */
export const checkKey = (c: Pick<HealthCheck, 'name' | 'subject'>) =>
  c.subject === null ? c.name : `${c.name}:${c.subject}`;

/**
 * The read replica of this process (DATABASE_READ_URL), as its own lag check saw it: warn while reads go to the
 * primary instead (down, beyond DATABASE_READ_MAX_LAG_MS, or not a standby). Value null: no lag could be measured.
 */
export function readReplicaCheck(r: ReadReplicaStatus): HealthCheck {
  return {
    name: 'read_replica_lag',
    subject: r.name,
    value: r.lagMs === null ? null : r.lagMs / 1000,
    unit: 'seconds',
    threshold: r.maxLagMs / 1000,
    status: r.inUse ? 'ok' : 'warn',
  };
}
