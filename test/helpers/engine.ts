import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Lifeline } from '../../src/db/lifeline.js';
import { TaskStore, type NewTaskV1 } from '../../src/db/store.js';
import { Engine } from '../../src/engine/engine.js';
import { Heartbeat } from '../../src/engine/heartbeat.js';
import { EventBus } from '../../src/events/bus.js';
import type { HandlerRegistry } from '../../src/handlers/registry.js';
import type { Logger } from '../../src/logger.js';
import { Maintenance } from '../../src/maintenance/maintenance.js';
import { promoteDue } from '../../src/maintenance/promoter.js';
import { reap } from '../../src/maintenance/reaper.js';
import { Notifier } from '../../src/notify/notifier.js';

/** The service's default backoff between retries. */
const BACKOFF = { baseMs: 1000, maxMs: 3_600_000 };

export interface StackOptions {
  concurrency?: number;
  leaseMs?: number;
  pollIntervalMs?: number;
  progressIntervalMs?: number;
  maxResultBytes?: number;
  /** Give the heartbeat a connection of its own, as the service does (default true). */
  lifeline?: boolean;
  /** Run the reaper when elected leader, as the service does (default true). */
  maintenance?: boolean;
  /** Also promote due scheduled tasks (retries, delays), as the service does (default false). */
  promoter?: boolean;
  store?: TaskStore;
  /** How often the engine checks its runs for cancels it was not told of (default: the engine's). */
  cancelCheckMs?: number;
}

/**
 * The engine with the parts the service composes around it (events, notifier, heartbeat, maintenance), in this
 * process, on a real database: what app.ts builds, minus HTTP.
 */
export class EngineStack {
  readonly bus = new EventBus((event, err) => {
    throw new Error(`listener of ${event} failed: ${String(err)}`);
  });
  readonly store: TaskStore;
  readonly heartbeat: Heartbeat;
  readonly notifier: Notifier;
  readonly engine: Engine;
  readonly fatal: unknown[] = [];
  private readonly lifeline: Lifeline | undefined;
  private readonly maintenance: Maintenance | undefined;

  constructor(
    pool: pg.Pool,
    url: string,
    handlers: HandlerRegistry,
    log: Logger,
    options: StackOptions = {},
  ) {
    const leaseMs = options.leaseMs ?? 5000;
    this.lifeline = options.lifeline === false ? undefined : new Lifeline(url, Math.floor(leaseMs / 3));
    this.store = options.store ?? new TaskStore(pool, this.lifeline);
    this.notifier = new Notifier({ connectionString: url, bus: this.bus });
    this.heartbeat = new Heartbeat(this.store, leaseMs, this.bus, options.concurrency ?? 100, BACKOFF);
    if (options.maintenance !== false) {
      this.maintenance = new Maintenance(this.heartbeat, this.bus, [
        {
          name: 'reaper',
          everyMs: Math.max(250, Math.floor(leaseMs / 4)),
          firstAfterMs: 0,
          run: (s) => reap(this.store, this.heartbeat.workerId, BACKOFF, this.bus, s),
        },
        ...(options.promoter
          ? [
              {
                name: 'promoter',
                everyMs: 50,
                firstAfterMs: 0,
                run: (s: AbortSignal) => promoteDue(this.store, s),
              },
            ]
          : []),
      ]);
    }
    this.engine = new Engine({
      store: this.store,
      handlers,
      bus: this.bus,
      heartbeat: this.heartbeat,
      notifier: this.notifier,
      log,
      concurrency: options.concurrency ?? 100,
      leaseMs,
      pollIntervalMs: options.pollIntervalMs ?? 100,
      progressIntervalMs: options.progressIntervalMs ?? 1000,
      limits: { maxResultBytes: options.maxResultBytes ?? 1 << 20, backoff: BACKOFF },
      onFatal: (err) => this.fatal.push(err),
      ...(options.cancelCheckMs !== undefined && { cancelCheckMs: options.cancelCheckMs }),
    });
  }

  get workerId(): string {
    return this.heartbeat.workerId;
  }

  async start(): Promise<this> {
    this.notifier.start();
    await this.heartbeat.start();
    this.maintenance?.start();
    this.engine.start();
    return this;
  }

  async stop(graceMs = 0): Promise<void> {
    await this.engine.stop(graceMs);
    await this.maintenance?.stop();
    // Failed already when the engine's own stop tried (and then logged it): the lease covers that case.
    await this.heartbeat.deregister(5000).catch(() => {});
    await this.notifier.stop();
    await this.lifeline?.close();
  }
}

/** Inserts `n` queued tasks for `handler` straight through the store; returns their ids. */
export async function insertTasks(
  store: TaskStore,
  n: number,
  handler: string,
  timeoutMs = 60_000,
): Promise<string[]> {
  const tasks = Array.from({ length: n }, () => ({ id: randomUUID(), handler, input: 'x', timeoutMs }));
  await store.taskInsertMany(tasks);
  return tasks.map((t) => t.id);
}

/** A task's state, failure kind and Result, as stored. */
export async function taskRow(pool: pg.Pool, id: string) {
  const { rows } = await pool.query<{ state: string; failure: string | null; result: string }>(
    'SELECT state::text, failure, result FROM taskd.tasks WHERE id = $1',
    [id],
  );
  return rows[0];
}

/** A v1 task to insert straight through the store: kind `kind`, one attempt, `{}` as input, unless `fields` say. */
export function newV1Task(kind: string, fields: Partial<NewTaskV1> = {}): NewTaskV1 {
  return {
    id: randomUUID(),
    kind,
    input: '{}',
    timeoutMs: 60_000,
    queue: 'default',
    priority: 0,
    runAt: null,
    maxAttempts: 1,
    backoffBaseMs: null,
    backoffMaxMs: null,
    idempotencyKey: null,
    fingerprint: null,
    callbackUrl: null,
    ...fields,
  };
}
