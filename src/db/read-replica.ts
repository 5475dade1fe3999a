import pg from 'pg';
import type { EventBus } from '../events/bus.js';
import { Periodic } from '../lifecycle/periodic.js';
import { DbAbortedError, DbUnavailableError } from './errors.js';
import { execute } from './pool.js';
import type { TaskStore } from './store.js';

/**
 * Reads that tolerate staleness, served by a streaming replica (`DATABASE_READ_URL`) while it keeps up, else by
 * the primary. What goes here: task lists, task reads by id (original and v1), a task's runs and deliveries,
 * queue lists, and the dashboard's stats and workers. What never does: anything a client must see its own
 * writes in (the answer of a create, cancel, retry or queue update, idempotent replays), `?wait=` long-polls and
 * event streams (they follow the primary's notifications), and every write.
 *
 * Read-your-writes without a token: a read by id that the replica answers with "no such thing" is asked again of
 * the primary, so a task read right after its create is found (a create is committed on the primary before its
 * answer is sent; the replica may not have replayed it yet). A task the replica has, it answers as of at most
 * DATABASE_READ_MAX_LAG_MS ago: the lag is checked every LAG_CHECK_INTERVAL_MS, and beyond the bound (or with
 * the replica unreachable, or no longer a standby) every read goes to the primary until it is back under it.
 * A read the replica fails (connection lost, a statement cancelled by a conflict with recovery) is run again on
 * the primary: the replica never turns a read into an error.
 */

/** How often the replica's lag is measured; a decision to use it is at most this old. */
export const LAG_CHECK_INTERVAL_MS = 1000;
/**
 * Client-side bound of a read on the replica (its store's default deadline): a replica that stopped answering
 * costs a read this long at most, once, before the read is run on the primary and the replica is set aside.
 */
export const REPLICA_READ_DEADLINE_MS = 5000;
/** Client-side bound of a lag check: a replica that does not answer within it counts as down. */
const LAG_CHECK_DEADLINE_MS = 2000;

/** Why a read went to the primary rather than the replica. */
export type PrimaryReason = 'down' | 'lagging' | 'not_found' | 'error';

export interface ReadReplicaStatus {
  /** Where the replica is (host:port/database, no credentials): the health check's subject. */
  name: string;
  /** Reads are being served by the replica. */
  inUse: boolean;
  /** It answered the last lag check. */
  up: boolean;
  /** Replay lag (0: it had replayed everything the primary had written when asked); null when unknown. */
  lagMs: number | null;
  /** WAL the primary had written that the replica had not yet replayed; null when unknown. */
  lagBytes: number | null;
  maxLagMs: number;
  /** Why it is not in use (undefined when it is). */
  problem: 'down' | 'lagging' | 'not_a_standby' | 'not_checked' | undefined;
}

/** Reads counted by where they ran: the replica, or the primary and why. */
export interface ReadCounts {
  replica: number;
  primary: Record<PrimaryReason, number>;
}

export interface ReadRouting {
  /**
   * Runs a stale-tolerant read on the replica when it is in use, else on the primary. `again(result)` true means
   * the replica's answer may just be behind (nothing found): the primary is asked.
   */
  read<T>(run: (store: TaskStore) => Promise<T>, again?: (result: T) => boolean): Promise<T>;
}

/** Every read on the primary: the routing of a process without DATABASE_READ_URL. */
export function primaryReads(primary: TaskStore): ReadRouting {
  return { read: (run) => run(primary) };
}

export interface ReadReplicaOptions {
  /** The replica's store (a TaskStore over the read pool). */
  replica: TaskStore;
  replicaPool: pg.Pool;
  primary: TaskStore;
  primaryPool: pg.Pool;
  name: string;
  maxLagMs: number;
  bus: EventBus;
  checkIntervalMs?: number;
}

/** WAL positions as byte offsets (float8 is exact far beyond any real WAL position). */
const SQL_PRIMARY_LSN = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS pos";
/**
 * On the replica: whether it is a standby, how far it has replayed, and how long ago the transaction it replayed
 * last was committed on the primary.
 */
const SQL_REPLICA_LAG = `SELECT pg_is_in_recovery() AS standby,
  pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::float8 AS replay_pos,
  (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS replay_age_ms`;

/** Primary WAL positions kept to date the replica's replay position (a few minutes of checks). */
const HISTORY = 300;

export class ReadReplica implements ReadRouting {
  private readonly periodic: Periodic;
  private state: ReadReplicaStatus;
  private readonly counts: ReadCounts = {
    replica: 0,
    primary: { down: 0, lagging: 0, not_found: 0, error: 0 },
  };
  private checking: Promise<void> | undefined;
  /** The primary's WAL position at recent checks, and when it was read: oldest first. */
  private readonly history: { pos: number; at: number }[] = [];

  constructor(private readonly options: ReadReplicaOptions) {
    this.state = {
      name: options.name,
      inUse: false,
      up: false,
      lagMs: null,
      lagBytes: null,
      maxLagMs: options.maxLagMs,
      problem: 'not_checked',
    };
    this.periodic = new Periodic(
      options.checkIntervalMs ?? LAG_CHECK_INTERVAL_MS,
      (signal) => this.check(signal),
      () => undefined, // check() records its own failures
    );
  }

  /** Starts checking the lag; reads go to the primary until the first check finds the replica in time. */
  start(): void {
    this.periodic.start(0);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  get status(): ReadReplicaStatus {
    return { ...this.state };
  }

  get readCounts(): ReadCounts {
    return { replica: this.counts.replica, primary: { ...this.counts.primary } };
  }

  /** Measures the lag now (GET /v1/health), sharing a check already under way. */
  refresh(signal?: AbortSignal): Promise<ReadReplicaStatus> {
    this.checking ??= this.check(signal).finally(() => (this.checking = undefined));
    return this.checking.then(() => this.status);
  }

  async read<T>(run: (store: TaskStore) => Promise<T>, again?: (result: T) => boolean): Promise<T> {
    if (!this.state.inUse) {
      this.counts.primary[this.state.problem === 'lagging' ? 'lagging' : 'down']++;
      return run(this.options.primary);
    }
    let result: T;
    try {
      result = await run(this.options.replica);
    } catch (err) {
      if (err instanceof DbAbortedError) throw err;
      // A replica that went away is not used again until a lag check finds it back; a statement it cancelled
      // (a conflict with recovery) or refused is only run again on the primary.
      if (connectionLost(err)) {
        this.lastError = err;
        this.markDown();
      }
      this.counts.primary.error++;
      return run(this.options.primary);
    }
    if (again?.(result)) {
      this.counts.primary.not_found++;
      return run(this.options.primary);
    }
    this.counts.replica++;
    return result;
  }

  private markDown(): void {
    this.update({ up: false, inUse: false, lagMs: null, lagBytes: null, problem: 'down' });
  }

  /**
   * Measures the lag. Two bounds on how stale the replica's answers are, the lesser taken: the time since the
   * primary was last seen at a WAL position the replica has replayed (exact to a check interval), and the time
   * since the commit the replica replayed last (exact under steady writes, too high when the primary writes
   * rarely, which the first bound corrects). A replica that has replayed all the primary had has no lag.
   */
  private async check(signal?: AbortSignal): Promise<void> {
    const options = { deadlineMs: LAG_CHECK_DEADLINE_MS, signal };
    let primaryPos: number;
    try {
      const result = await execute<{ pos: number }>(
        this.options.primaryPool,
        { text: SQL_PRIMARY_LSN },
        options,
      );
      primaryPos = result.rows[0]!.pos;
    } catch {
      // The primary is away: nothing to compare with, and nothing to change (reads fail or not on their own).
      return;
    }
    this.history.push({ pos: primaryPos, at: Date.now() });
    if (this.history.length > HISTORY) this.history.shift();
    let row: { standby: boolean; replay_pos: number | null; replay_age_ms: number | null };
    try {
      const result = await execute<typeof row>(this.options.replicaPool, { text: SQL_REPLICA_LAG }, options);
      row = result.rows[0]!;
    } catch (err) {
      if (signal?.aborted) return;
      this.lastError = err;
      this.markDown();
      return;
    }
    if (!row.standby || row.replay_pos === null) {
      // Promoted, or never a replica: it no longer follows the primary, so what it answers may never catch up.
      this.update({ up: true, inUse: false, lagMs: null, lagBytes: null, problem: 'not_a_standby' });
      return;
    }
    const replayed = row.replay_pos;
    const behind = Math.max(0, primaryPos - replayed);
    let lagMs: number | null = 0;
    if (behind > 0) {
      const now = Date.now();
      const covered = this.history.findLast((h) => h.pos <= replayed);
      const bound = Math.min(
        covered ? now - covered.at : Infinity,
        row.replay_age_ms === null ? Infinity : Math.max(0, row.replay_age_ms),
      );
      lagMs = Number.isFinite(bound) ? Math.round(bound) : null;
    }
    // Positions the replica has passed date nothing any more: keep the newest of them only.
    const ahead = this.history.findIndex((h) => h.pos > replayed);
    const firstAhead = ahead === -1 ? this.history.length : ahead;
    if (firstAhead > 1) this.history.splice(0, firstAhead - 1);
    const inTime = lagMs !== null && lagMs <= this.options.maxLagMs;
    this.update({
      up: true,
      inUse: inTime,
      lagMs,
      lagBytes: behind,
      problem: inTime ? undefined : 'lagging',
    });
  }

  /** The error of the last failed lag check (logged with the unavailable event). */
  private lastError: unknown;

  private update(next: Omit<ReadReplicaStatus, 'name' | 'maxLagMs'>): void {
    const before = this.state;
    this.state = { ...before, ...next };
    if (before.inUse && !next.inUse) {
      this.options.bus.emit('replica.unused', {
        replica: before.name,
        reason: next.problem ?? 'down',
        lagMs: next.lagMs,
        err: next.problem === 'down' ? this.lastError : undefined,
      });
    } else if (!before.inUse && next.inUse) {
      this.options.bus.emit('replica.used', { replica: before.name, lagMs: next.lagMs });
    }
    if (next.up) this.lastError = undefined;
  }
}

/** The replica's connection broke or was refused, or the server is shutting down (not: a statement failed). */
function connectionLost(err: unknown): boolean {
  if (err instanceof DbUnavailableError) return true;
  return err instanceof pg.DatabaseError && /^(08|57P0)/.test(err.code ?? '');
}

/** host:port/database of a PostgreSQL URL, without credentials or parameters. */
export function replicaName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'replica';
  }
}
