import type { StatsRow, TaskStore, WorkerRow } from '../db/store.js';

/** Seconds of the stats window a client may ask for: a minute to a day; an hour by default. */
export const STATS_WINDOW = { min: 60, max: 86_400, default: 3600 } as const;

/** Buckets of a stats window: 60 of them, never narrower than a minute. */
export function bucketSeconds(windowS: number): number {
  return Math.max(60, Math.ceil(windowS / 60 / 60) * 60);
}

export interface Latency {
  p50: number | null;
  p95: number | null;
}

export interface StatsBucket {
  start: string;
  completed: number;
  failed: number;
  cancelled: number;
  pickup_ms: Latency;
  run_ms: Latency;
}

export interface Stats {
  window_s: number;
  bucket_s: number;
  totals: Omit<StatsBucket, 'start'>;
  buckets: StatsBucket[];
}

const round = (ms: number | null) => (ms === null ? null : Math.round(ms * 10) / 10);

function bucketOf(row: StatsRow): Omit<StatsBucket, 'start'> {
  return {
    completed: row.completed,
    failed: row.failed,
    cancelled: row.cancelled,
    pickup_ms: { p50: round(row.pickup_p50_ms), p95: round(row.pickup_p95_ms) },
    run_ms: { p50: round(row.run_p50_ms), p95: round(row.run_p95_ms) },
  };
}

/**
 * What an operator looks at besides the tasks themselves: throughput and latency of recent work, and the worker
 * processes sharing the database. Reads only.
 */
export class Operations {
  constructor(
    private readonly store: Pick<TaskStore, 'taskStats' | 'workerList'>,
    /** This process's LEASE_MS: a worker's last heartbeat was this long before its lease's end. */
    private readonly leaseMs: number,
  ) {}

  /** Tasks finished within the last `windowS` seconds, in total and per bucket (only buckets with any). */
  async stats(windowS: number): Promise<Stats> {
    const bucketS = bucketSeconds(windowS);
    const rows = await this.store.taskStats(windowS, bucketS);
    const total = rows.find((r) => r.total === 1);
    const empty = { completed: 0, failed: 0, cancelled: 0, pickup_p50_ms: null, pickup_p95_ms: null };
    return {
      window_s: windowS,
      bucket_s: bucketS,
      totals: bucketOf(total ?? { ...empty, start: null, total: 1, run_p50_ms: null, run_p95_ms: null }),
      buckets: rows
        .filter((r) => r.total === 0 && r.start !== null)
        .map((r) => ({ start: r.start!, ...bucketOf(r) })),
    };
  }

  async workers(): Promise<WorkerRow[]> {
    return this.store.workerList(this.leaseMs);
  }
}
