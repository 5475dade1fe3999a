import net, { type AddressInfo } from 'node:net';
import type pg from 'pg';
import type { Config } from './config.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { describeDbError, isTooManyConnections, isTransientDbError } from './db/errors.js';
import { Lifeline } from './db/lifeline.js';
import { migrate } from './db/migrate.js';
import { createPool } from './db/pool.js';
import {
  primaryReads,
  ReadReplica,
  REPLICA_READ_DEADLINE_MS,
  replicaName,
  type ReadRouting,
} from './db/read-replica.js';
import { TaskStore } from './db/store.js';
import { ExternalWorkers } from './domain/external-workers.js';
import { setTaskIdShard } from './domain/task-id.js';
import { TaskService, type KindInfo } from './domain/task-service.js';
import { TaskWaiters } from './domain/task-waiters.js';
import { ChangeFeed } from './domain/change-feed.js';
import { Operations } from './domain/operations.js';
import { Engine } from './engine/engine.js';
import { Heartbeat } from './engine/heartbeat.js';
import { EventBus } from './events/bus.js';
import { logEvents } from './events/log.js';
import { builtInHandlers, HandlersDirError, registerHandlerModules } from './handlers/index.js';
import { HandlerModuleError } from './handlers/modules.js';
import type { Kind } from './handlers/registry.js';
import { HandlerThreads } from './handlers/thread-pool.js';
import { buildServer } from './http/server.js';
import { Backoff, pause } from './lifecycle/backoff.js';
import type { Logger } from './logger.js';
import { Maintenance } from './maintenance/maintenance.js';
import { promoteDue } from './maintenance/promoter.js';
import { reap } from './maintenance/reaper.js';
import { ensureEveryMs, ensurePartitions } from './maintenance/partitions.js';
import { sweepRetention } from './maintenance/retention.js';
import { Notifier } from './notify/notifier.js';
import { AddressGuard, parseAllowEntry } from './outbound/address-guard.js';
import { OutboundClient } from './outbound/client.js';
import { parseWebhookSecret, WebhookSigner } from './outbound/signing.js';
import { WebhookDeliverer } from './webhooks/deliverer.js';
import { ScheduleService } from './schedules/schedule-service.js';
import { ScheduleTicker } from './schedules/ticker.js';
import { HealthSampler } from './health/sampler.js';
import { Metrics } from './metrics/metrics.js';
import { QueueSampler } from './metrics/queue-sampler.js';

/** How long a closing listener waits for requests on connections it has just accepted. */
const LISTENER_LINGER_MS = 250;
/** Connections a process holds besides its pool: the heartbeat's lifeline and the notification listener. */
const OWN_CONNECTIONS = 2;

export interface App {
  /** Graceful: refuse creates, stop claiming, let tasks finish within the grace period, release everything. */
  stop(): Promise<void>;
  /** Fast: fail running tasks at once (best effort) and release everything. */
  forceStop(): Promise<void>;
  /** The events of this process, for whoever wants to watch. */
  readonly bus: EventBus;
}

export interface StartOptions {
  /** Aborting it during start-up (a signal) stops the start: what was acquired is released, and startApp rejects. */
  signal?: AbortSignal;
  /** Something this process cannot live on with happened after start (a loop that keeps crashing). */
  onFatal?: (err: unknown) => void;
}

/** Start-up was cut short by its abort signal; everything acquired was released. */
export class StartAborted extends Error {
  constructor() {
    super('start-up was interrupted');
    this.name = 'StartAborted';
  }
}

/** A start-up problem the operator must fix: its message is the one line to print. */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** Connects, retrying while the database is still starting (containers start together). */
async function connectAndMigrate(
  pool: pg.Pool,
  log: Logger,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  const backoff = new Backoff(200, 2000);
  for (;;) {
    try {
      await migrate(pool, log);
      return;
    } catch (err) {
      if (signal.aborted) throw new StartAborted();
      if (isTooManyConnections(err)) {
        throw new StartupError('the database refuses more connections (max_connections reached)', {
          cause: err,
        });
      }
      if (!isTransientDbError(err) || Date.now() > giveUpAt) throw err;
      log.warn({ err: describeDbError(err) }, 'database not reachable yet; retrying');
      await pause(backoff.nextDelay(), signal);
      if (signal.aborted) throw new StartAborted();
    }
  }
}

/**
 * A promise's outcome as a value, so that work can be started early and its failure thrown where it is awaited (no
 * unhandled rejection if the start fails elsewhere meanwhile).
 */
async function outcomeOf(
  work: Promise<unknown>,
): Promise<{ failed: false } | { failed: true; err: unknown }> {
  try {
    await work;
    return { failed: false };
  } catch (err) {
    return { failed: true, err };
  }
}

/** Fails the start when the server could never give this process the connections it is configured to hold. */
async function checkConnectionCapacity(store: TaskStore, config: Config, log: Logger): Promise<void> {
  const { maxConnections, inUse } = await store.serverConnectionCapacity();
  const needed = config.DB_POOL_SIZE + OWN_CONNECTIONS;
  if (needed > maxConnections) {
    throw new StartupError(
      `DB_POOL_SIZE=${config.DB_POOL_SIZE} needs ${needed} connections, but the database accepts at most ${maxConnections} (max_connections less the reserved ones): lower DB_POOL_SIZE or raise max_connections`,
    );
  }
  if (needed > maxConnections - inUse + 1) {
    log.warn(
      { needed, max_connections: maxConnections, in_use: inUse },
      'the database may run out of connections for this process: others hold most of them',
    );
  }
}

/**
 * The composition root: acquires database, store, events, notifier, heartbeat, maintenance, service, HTTP and
 * engine in that order, and releases them in reverse. Everything long-running is started and stopped here,
 * nowhere else.
 */
export async function startApp(config: Config, log: Logger, options: StartOptions = {}): Promise<App> {
  const signal = options.signal ?? new AbortController().signal;
  const releases: { name: string; release: () => void | Promise<void> }[] = [];
  const acquire = (name: string, release: () => void | Promise<void>) => releases.push({ name, release });
  const releaseAll = async () => {
    for (const { name, release } of releases.splice(0).reverse()) {
      try {
        await release();
      } catch (err) {
        log.error({ err, resource: name }, 'release failed');
      }
    }
  };
  const checkpoint = () => {
    if (signal.aborted) throw new StartAborted();
  };

  // Before anything can create a task: every id this process makes carries its shard, or none.
  setTaskIdShard(config.TASK_ID_SHARD);

  const bus = new EventBus((event, err) => log.error({ err, event }, 'event listener failed'));
  const stopLogging = logEvents(bus, log);
  acquire('event log', stopLogging);

  try {
    // Outbound requests (the http kind, webhooks) go through the address guard, signed when there is a secret.
    const guard = new AddressGuard((config.HTTP_ALLOW_HOSTS ?? []).map((e) => parseAllowEntry(e)!));
    const outbound = new OutboundClient(guard, config.HTTP_CONNECT_TIMEOUT_MS);
    acquire('outbound HTTP client', () => outbound.close());
    const signer = new WebhookSigner(
      config.WEBHOOK_SECRET === undefined ? undefined : parseWebhookSecret(config.WEBHOOK_SECRET),
      () => bus.emit('outbound.unsigned', {}),
    );
    if (!signer.signs) {
      log.info(
        { event: 'outbound.signing_off' },
        'WEBHOOK_SECRET is not set: webhooks and http task requests will be sent unsigned',
      );
    }

    // Handler modules next: a broken one stops the start before the database is touched.
    const handlers = builtInHandlers(config, { client: outbound, signer });
    const threads = new HandlerThreads({ maxThreads: config.HANDLER_THREADS, bus });
    acquire('handler threads', () => threads.close());
    try {
      const dir = await registerHandlerModules(handlers, config.HANDLERS_DIR, threads);
      const modules = handlers.list().filter((k) => k.source === 'module');
      if (dir) log.info({ dir, kinds: modules.map((k) => k.name) }, 'handler modules loaded');
    } catch (err) {
      if (err instanceof HandlerModuleError || err instanceof HandlersDirError) {
        throw new StartupError(err.message, { cause: err });
      }
      throw err;
    }
    // Kinds that external workers run: known to the API, never run here.
    const externalKinds = config.EXTERNAL_KINDS ?? [];
    const taken = externalKinds.filter((kind) => handlers.has(kind));
    if (taken.length > 0) {
      throw new StartupError(
        `EXTERNAL_KINDS names ${taken.join(', ')}, which this process runs itself: a kind is run by external workers or by taskd, not both`,
      );
    }
    for (const kind of externalKinds) {
      handlers.register(kind, undefined, {
        source: 'external',
        defaults: {},
        inputSchema: null,
        isolation: 'inline',
      });
    }
    checkpoint();

    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      const embedded = await startEmbeddedPostgres({
        dataDir: config.DATA_DIR,
        port: config.EMBEDDED_PG_PORT,
        // Room for this process (pool, lifeline, listener) and a few clients of the operator's own (psql,
        // `npm run migrate`), never less than PostgreSQL's usual 100.
        maxConnections: Math.max(100, config.DB_POOL_SIZE + OWN_CONNECTIONS + 10),
        log,
      });
      acquire('embedded PostgreSQL', () => embedded.stop());
      databaseUrl = embedded.url;
    }
    checkpoint();

    const pool = createPool(
      { connectionString: databaseUrl, max: config.DB_POOL_SIZE, applicationName: 'taskd' },
      log,
    );
    acquire('database pool', async () => {
      await pool.end();
      log.info('database connections closed');
    });
    await connectAndMigrate(pool, log, 60_000, signal);
    log.info({ database: redact(databaseUrl) }, 'database connected');

    // A heartbeat must land well within the lease: a third of it, as often as it is sent.
    const lifeline = new Lifeline(databaseUrl, Math.floor(config.LEASE_MS / 3));
    acquire('lifeline connection', () => lifeline.close());
    // The engine never claims external kinds; every process sharing the database must list the same ones.
    const store = new TaskStore(pool, lifeline, { externalKinds });
    // The partitions of the task table for the time of the ids this process is about to make, before it makes any:
    // one statement (a fresh database spends about 0.1 s in it), made while the rest of the process is built and
    // awaited before the schedules tick and the listener opens, the first makers of ids.
    const partitionPlan = { stepMs: config.PARTITION_INTERVAL_MINUTES * 60_000 };
    const partitionsMade = outcomeOf(ensurePartitions(store, partitionPlan, bus));
    await checkConnectionCapacity(store, config, log);
    checkpoint();

    // Stale-tolerant reads go to the read replica while it keeps up (see db/read-replica.ts). Its absence at start
    // stops nothing: reads go to the primary until a lag check finds it.
    let reads: ReadRouting = primaryReads(store);
    let readReplica: ReadReplica | undefined;
    if (config.DATABASE_READ_URL) {
      const readPool = createPool(
        {
          connectionString: config.DATABASE_READ_URL,
          max: config.DB_READ_POOL_SIZE,
          applicationName: 'taskd-read',
        },
        log,
      );
      acquire('read replica pool', () => readPool.end());
      const replica = new ReadReplica({
        replica: new TaskStore(readPool, undefined, { externalKinds, deadlineMs: REPLICA_READ_DEADLINE_MS }),
        replicaPool: readPool,
        primary: store,
        primaryPool: pool,
        name: replicaName(config.DATABASE_READ_URL),
        maxLagMs: config.DATABASE_READ_MAX_LAG_MS,
        bus,
      });
      replica.start();
      acquire('read replica lag check', () => replica.stop());
      reads = replica;
      readReplica = replica;
      log.info({ replica: replica.status.name }, 'read replica configured');
    }

    const notifier = new Notifier({ connectionString: databaseUrl, bus });
    notifier.start();
    acquire('notifier', () => notifier.stop());

    const backoff = { baseMs: config.RETRY_BACKOFF_BASE_MS, maxMs: config.RETRY_BACKOFF_MAX_MS };
    const heartbeat = new Heartbeat(store, config.LEASE_MS, bus, config.WORKER_CONCURRENCY, backoff);
    await heartbeat.start();
    // Deregisters at the end if the engine did not (an API-only process, or a start that failed later on).
    acquire('worker registration', async () => void (await heartbeat.deregister(5000)));
    checkpoint();

    const maintenance = new Maintenance(heartbeat, bus, [
      // A few reaps per lease, so that a dead process's tasks are failed soon after its lease runs out.
      {
        name: 'reaper',
        everyMs: Math.max(250, Math.floor(config.LEASE_MS / 4)),
        firstAfterMs: 0,
        run: (s) => reap(store, heartbeat.workerId, backoff, bus, s),
      },
      // Scheduled tasks (delayed, or waiting for a retry) become runnable when their time comes.
      { name: 'promoter', everyMs: 250, firstAfterMs: 0, run: (s) => promoteDue(store, s) },
      // Partitions of the task table made ahead of the ids to come.
      {
        name: 'partitions',
        everyMs: ensureEveryMs(partitionPlan),
        run: () => ensurePartitions(store, partitionPlan, bus),
      },
      ...(config.RETENTION_DAYS > 0
        ? [
            {
              name: 'retention',
              everyMs: 60_000,
              firstAfterMs: 5_000,
              run: (s: AbortSignal) =>
                sweepRetention(store, Math.round(config.RETENTION_DAYS * 86_400_000), bus, s),
            },
          ]
        : []),
    ]);
    maintenance.start();
    acquire('maintenance', () => maintenance.stop());

    // Completion webhooks, from the outbox every terminal transition writes. Every process delivers (claims skip
    // each other's rows); released before the notifier and the pool, after the engine's last settles.
    const deliverer = new WebhookDeliverer({
      store,
      client: outbound,
      signer,
      notifier,
      bus,
      concurrency: config.WEBHOOK_CONCURRENCY,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      backoff: { baseMs: config.WEBHOOK_BACKOFF_BASE_MS, maxMs: config.WEBHOOK_BACKOFF_MAX_MS },
    });
    deliverer.start();
    acquire('webhook deliverer', () => deliverer.stop());

    const service = new TaskService(store, bus, {
      defaultHandler: config.DEFAULT_HANDLER,
      defaultTimeoutMs: config.TASK_TIMEOUT_MS,
      maxTaskLength: config.MAX_TASK_LENGTH,
      kinds: handlers.list().map((kind) => kindInfo(kind, config)),
      reads,
    });
    const workers = new ExternalWorkers({
      store,
      notifier,
      bus,
      kinds: externalKinds,
      leaseMs: config.EXTERNAL_LEASE_MS,
      pollIntervalMs: config.POLL_INTERVAL_MS,
      maxResultBytes: config.MAX_RESULT_BYTES,
      backoff,
      isAccepting: () => service.isAccepting,
    });

    // Metrics follow the bus; the samplers keep this process's gauges fresh from the database (see QueueSampler
    // for why every process samples). The engine's numbers are read at scrape time, once there is an engine.
    let running: Engine | undefined;
    const waiting: { of?: TaskWaiters } = {};
    const metrics = new Metrics(bus, {
      pool,
      engineLoad: () => running?.load ?? { running: 0, stuck: 0 },
      readReplica,
      waiters: () => waiting.of?.size ?? 0,
    });
    acquire('metrics', () => metrics.close());
    const queueSampler = new QueueSampler(store, bus, config.METRICS_SAMPLE_INTERVAL_MS);
    queueSampler.start();
    acquire('queue sampler', () => queueSampler.stop());
    const healthSampler = new HealthSampler(
      store,
      bus,
      {
        deadTuples: config.HEALTH_DEAD_TUPLES_WARN,
        tableSizeBytes: config.HEALTH_TABLE_SIZE_WARN_BYTES,
        xminHorizonSeconds: config.HEALTH_XMIN_HORIZON_WARN_S,
      },
      config.METRICS_SAMPLE_INTERVAL_MS,
      readReplica,
    );
    healthSampler.start();
    acquire('health sampler', () => healthSampler.stop());

    // Long-polls and event streams, woken by the notifier: in API-only processes too.
    const waiters = new TaskWaiters(store, notifier, (err) =>
      log.warn({ err: describeDbError(err) }, 'reading waited-on tasks failed; retrying'),
    );
    waiters.start();
    waiting.of = waiters;
    // The dashboard's live updates: every task change, from the same notifications.
    const feed = new ChangeFeed(notifier);
    feed.start();

    // Every instance ticks, API-only ones too: the database lets one instance through per tick.
    const schedules = new ScheduleService(store, service);
    const ticker = new ScheduleTicker({
      store,
      tasks: service,
      notifier,
      bus,
      misfireGraceMs: config.SCHEDULE_MISFIRE_GRACE_MS,
    });
    acquire('schedule ticker', () => ticker.stop());

    // The listener starts before the engine so that the engine is stopped first on the way out.
    const server = await buildServer({
      service,
      waiters,
      schedules,
      workers,
      feed,
      // The dashboard's stats and worker list tolerate staleness: the read replica's, when there is one.
      operations: new Operations(
        {
          taskStats: (windowS, bucketS) => reads.read((s) => s.taskStats(windowS, bucketS)),
          workerList: (leaseMs) => reads.read((s) => s.workerList(leaseMs)),
        },
        config.LEASE_MS,
      ),
      log,
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      apiTokens: config.API_TOKENS,
      rateLimit:
        config.RATE_LIMIT_MAX > 0
          ? { max: config.RATE_LIMIT_MAX, windowMs: config.RATE_LIMIT_WINDOW_MS }
          : undefined,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      trustProxy: config.TRUST_PROXY,
      metrics,
      metricsPublic: config.METRICS_PUBLIC,
      health: healthSampler,
    });
    const partitions = await partitionsMade;
    if (partitions.failed) throw partitions.err;
    checkpoint();
    ticker.start();
    await server.listen({ port: config.PORT, host: config.HOST });
    const address = server.server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    log.info({ event: 'http.listening', url, port: address.port }, 'listening');
    acquire('http server', async () => {
      // Refuse new connections first, and give requests already on their way a moment to arrive: closing
      // idle connections at once would cut a request whose connection was accepted an instant before.
      // (net.Server's close, not http.Server's: the latter also closes idle connections right away.)
      net.Server.prototype.close.call(server.server);
      await pause(LISTENER_LINGER_MS);
      await server.close();
      log.info('http server closed');
    });
    // Released before the listener closes, which waits for every open request: waits answer with the task as
    // it is, and event streams end.
    acquire('waiters', () => waiters.close());
    // Likewise waiting claims answer at once (with no task), rather than holding the listener's close.
    acquire('external workers', () => workers.close());
    acquire('change feed', () => feed.close());
    checkpoint();

    let engine: Engine | undefined;
    if (config.WORKER_CONCURRENCY > 0) {
      const e = new Engine({
        store,
        handlers,
        bus,
        heartbeat,
        notifier,
        log,
        concurrency: config.WORKER_CONCURRENCY,
        leaseMs: config.LEASE_MS,
        pollIntervalMs: config.POLL_INTERVAL_MS,
        progressIntervalMs: config.PROGRESS_INTERVAL_MS,
        limits: { maxResultBytes: config.MAX_RESULT_BYTES, backoff },
        onFatal: (err) => options.onFatal?.(err),
      });
      e.start();
      service.dispatchTo(e);
      engine = e;
      running = e;
      service.addReadinessCheck(() => (e.healthy ? undefined : 'the task engine is not running'));
      acquire('engine', () => e.stop(config.SHUTDOWN_GRACE_MS));
    } else {
      log.info({ event: 'engine.disabled' }, 'WORKER_CONCURRENCY=0: serving the API only, claiming no tasks');
    }

    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        log.info('shutdown: refusing new tasks');
        // New creates get 503 (and /readyz too) from here on; those already accepted still commit. Claiming
        // stops at once: the engine's stop runs alongside, and is the first release below.
        // No tick creates a task once the service has stopped accepting them. Waiting claims of external workers
        // answer now too, and new ones are refused: workers move elsewhere.
        workers.close();
        await Promise.all([service.stopAccepting(), ticker.stop(), engine?.stop(config.SHUTDOWN_GRACE_MS)]);
        // Reverse order of acquisition: engine (reads keep being served while tasks finish), listener,
        // maintenance, heartbeat, notifier, pool, embedded database.
        await releaseAll();
        log.info('shutdown complete');
      })());

    return {
      bus,
      stop,
      async forceStop() {
        log.warn('forced shutdown: failing running tasks now');
        engine?.endGracePeriod();
        await stop();
      },
    };
  } catch (err) {
    await releaseAll();
    throw err;
  }
}

/** A kind as the service shows it and checks creates against: its own defaults, else the service-wide ones. */
function kindInfo(kind: Kind, config: Config): KindInfo {
  const { defaults } = kind;
  return {
    name: kind.name,
    source: kind.source,
    defaults: {
      queue: defaults.queue ?? 'default',
      timeout_ms: defaults.timeoutMs ?? config.TASK_TIMEOUT_MS,
      max_attempts: defaults.maxAttempts ?? 3,
      backoff: {
        base_ms: defaults.backoff?.baseMs ?? config.RETRY_BACKOFF_BASE_MS,
        max_ms: defaults.backoff?.maxMs ?? config.RETRY_BACKOFF_MAX_MS,
      },
    },
    input_schema: kind.inputSchema,
    validate: kind.validate,
    backoff: defaults.backoff,
  };
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}
